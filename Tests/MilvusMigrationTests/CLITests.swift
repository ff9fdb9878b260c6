import Foundation
import Testing
import Milvus1xFixture
@testable import MilvusMigration

/// The binary as a user runs it: exit codes, stdout, one-sentence errors on stderr.
@Suite struct CLITests {
    func config(_ dir: TempDir, meta: String) throws -> String {
        let path = dir.sub("migration.yaml")
        try Data("""
        dumper:
          worker:
            workMode: milvus1x
        meta:
          mode: \(meta == "sqlite" ? "sqlite\n  sqliteFile: \(dir.sub("db/meta.sqlite"))" : "local\n  localFile: \(dir.sub("out/meta.json"))")
        source:
          mode: local
          local:
            tablesDir: \(dir.sub("db/tables"))
        target:
          mode: local
          local:
            outputDir: \(dir.sub("staged"))
        """.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func exportThenPlanFromMetaJSON() async throws {
        let dir = TempDir()
        let (sampleStatus, _, _) = try await run(cliPath, ["sample", "-o", dir.sub("db"), "--rows", "30"])
        #expect(sampleStatus == 0)
        let (status, out, err) = try await run(cliPath, ["export", "-s", dir.sub("db/meta.sqlite"), "-o", dir.sub("out")])
        #expect(status == 0, "\(err)")
        #expect(out.contains("Exported 2 collection(s), 1 partition(s), 5 segment(s)"))
        #expect(FileManager.default.fileExists(atPath: dir.sub("out/meta.json")))

        let cfg = try config(dir, meta: "local")
        let (planStatus, planOut, planErr) = try await run(cliPath, ["plan", "--config", cfg])
        #expect(planStatus == 0, "\(planErr)")
        #expect(planOut.contains("_2023_Q1 (2023 Q1)") && planOut.contains("No problems found."))
        let (jsonStatus, jsonOut, _) = try await run(cliPath, ["plan", "-c", cfg, "--json", "--col", "products"])
        #expect(jsonStatus == 0)
        let json = try JSONSerialization.jsonObject(with: Data(jsonOut.utf8)) as! [String: Any]
        #expect(json["ok"] as? Bool == true)
        #expect((json["collections"] as! [[String: Any]]).map { $0["collection"] as! String } == ["products"])
        #expect(json["liveRows"] as? Int == 30 * 3 - 4)
    }

    @Test func planFailsOnABrokenSegment() async throws {
        let dir = TempDir()
        #expect(try await run(cliPath, ["sample", "-o", dir.sub("db"), "--rows", "10"]).0 == 0)
        let cfg = try config(dir, meta: "sqlite")
        let folder = try FileManager.default.contentsOfDirectory(atPath: dir.sub("db/tables/products")).sorted()[0]
        let rv = dir.sub("db/tables/products/\(folder)/\(folder).rv")
        truncate(rv, 20)
        let (status, out, err) = try await run(cliPath, ["plan", "-c", cfg])
        #expect(status == 1)
        #expect(out.contains("Problems (1)"))
        #expect(err.contains("error: the plan found 1 problem; nothing was migrated") && err.contains(rv))
    }

    @Test func usageAndConfigErrorsExitWithTwo() async throws {
        let dir = TempDir()
        #expect(try await run(cliPath, ["sample", "-o", dir.sub("db"), "--rows", "5"]).0 == 0)
        let cfg = try config(dir, meta: "sqlite")
        let unknown = try await run(cliPath, ["plan", "-c", cfg, "--col", "products,nope"])
        #expect(unknown.0 == 2)
        #expect(unknown.2.contains("--col: no collection 'nope'") && unknown.2.contains("known collections: fingerprints, products"))

        let missing = try await run(cliPath, ["plan", "-c", dir.sub("none.yaml")])
        #expect(missing.0 == 2 && missing.2.contains("none.yaml") && missing.2.contains("cannot read the file"))

        try FileManager.default.createDirectory(atPath: dir.sub("empty"), withIntermediateDirectories: true)
        let noConfig = try await run(cliPath, ["plan"], cwd: dir.sub("empty"))
        #expect(noConfig.0 == 2 && noConfig.2.contains("no configuration file"))

        let exportNoSource = try await run(cliPath, ["export", "-o", dir.sub("x")])
        #expect(exportNoSource.0 == 2 && exportNoSource.2.contains("export needs the 1.x meta"))
        let exportBad = try await run(cliPath, ["export", "-s", dir.sub("nope.sqlite"), "-o", dir.sub("x")])
        #expect(exportBad.0 == 1 && exportBad.2.contains("nope.sqlite: no such file"))
        #expect(!FileManager.default.fileExists(atPath: dir.sub("x/meta.json")))
    }

    @Test func defaultConfigLocations() async throws {
        let dir = TempDir()
        #expect(try await run(cliPath, ["sample", "-o", dir.sub("db"), "--rows", "5"]).0 == 0)
        let cfg = try config(dir, meta: "sqlite")
        try FileManager.default.createDirectory(atPath: dir.sub("configs"), withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: cfg, toPath: dir.sub("configs/migration.yaml"))
        let (status, out, err) = try await run(cliPath, ["plan"], cwd: dir.path)
        #expect(status == 0, "\(err)")
        #expect(out.contains("No problems found."))
    }

    @Test func exportRefusesAMetaWithProblems() async throws {
        let dir = TempDir()
        let db = try Milvus1xDatabase(root: dir.sub("db"))
        db.addCollection("c", dimension: 8)
        db.addPartition(of: "c", tag: "a b")
        db.addPartition(of: "c", tag: "a-b")
        try db.finish()
        let (status, _, err) = try await run(cliPath, ["export", "-s", db.metaPath, "-o", dir.sub("out")])
        #expect(status == 1)
        #expect(err.contains("collides with tag 'a b'"))
        #expect(!FileManager.default.fileExists(atPath: dir.sub("out/meta.json")))
    }
}
