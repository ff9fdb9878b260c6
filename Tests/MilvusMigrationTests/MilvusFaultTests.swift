import Foundation
import Testing
import Milvus1xFixture
@testable import MilvusMigration

/// Milvus killed (SIGKILL) under a running migration and restarted on the same data folder, and
/// Milvus unreachable. These tests kill the server, so they run in a phase of their own
/// (scripts/test.sh: MM_FAULT_MILVUS=1, a Milvus no other suite uses).
let milvusFaultsEnabled = ProcessInfo.processInfo.environment["MM_FAULT_MILVUS"] == "1" && milvusUp

@Suite(.serialized, .enabled(if: milvusFaultsEnabled, "the Milvus fault phase of scripts/test.sh"))
struct MilvusFaultTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static var runDir: String { ProcessInfo.processInfo.environment["MM_RUN_DIR"] ?? "/tmp/mm-services" }

    /// Segments of different sizes, so the partition count tells which imports persisted.
    struct Setup {
        let dir = TempDir("fault")
        let target = "fault_\(UUID().uuidString.prefix(8).lowercased())"
        var config: String { dir.sub("migration.yaml") }
        var staging: String { dir.sub("out/migration") }
        var journal: String { "\(staging)/journal.json" }
        var totalRows = 0

        init(segments: Int = 6, rows: Int = 15_000) throws {
            let db = try Milvus1xDatabase(root: dir.sub("db"))
            db.addCollection("faults", dimension: 16, metric: 2)
            for s in 0..<segments {
                let n = rows + 1_000 * s
                totalRows += n
                try db.addSegment(table: "faults", rows: n, id: { Int64(s * 1_000_000 + $0) }, vector: { row, b in
                    for i in 0..<16 { b.storeBytes(of: Float(row &* 7 &+ i &+ s).bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
                })
            }
            try db.finish()
            try localMigrationYAML(db, outputDir: dir.sub("out"), renames: ["faults": target], loaderLimit: 2)
                .write(toFile: config, atomically: true, encoding: .utf8)
        }

        func cli(_ verb: String, _ more: [String] = [], env: [String: String] = [:]) async throws -> (Int32, String, String) {
            try await run(cliPath, [verb, "-c", config, "--quiet"] + more,
                    environment: ProcessInfo.processInfo.environment.merging(env) { $1 })
        }

        func rowCount() async throws -> Int64 {
            let target = self.target
            return try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Int64 in
                try await client.flush([target])
                return try await client.rowCount(collection: target)
            }
        }

        /// Runs `verb` in the background, kills Milvus once an import task is recorded, and
        /// returns how the command ended.
        func killMilvusDuring(_ verb: String) async throws -> (status: Int32, err: String, seconds: Double) {
            let journal = self.journal
            let started = Date()
            let r = try await signalCLI([verb, "-c", config, "--quiet"], signal: 0, within: 300) { _, _ in
                if fileContains(journal, "\"importTask\"") {
                    MilvusFaultTests.killMilvus()
                    return true
                }
                return false
            }
            return (r.status, r.err, Date().timeIntervalSince(started))
        }
    }

    static func milvusPid() -> Int32? {
        guard let text = try? String(contentsOfFile: "\(runDir)/milvus.pid", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// When Milvus was last killed.
    nonisolated(unsafe) static var lastKill = Date.distantPast

    /// SIGKILL to the Milvus this phase started (its recorded pid), then waits until it is gone.
    static func killMilvus() {
        guard let pid = milvusPid() else { return }
        note("kill -9 Milvus pid \(pid)")
        lastKill = Date()
        kill(pid, SIGKILL)
        for _ in 0..<200 {
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            if state.isEmpty || state.contains(") Z ") { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Restarts Milvus on its existing data and waits until HasCollection answers quickly (a
    /// restart on existing data hangs DDL and HasCollection for a few seconds after /healthz).
    static func restartMilvus() async throws {
        note("restarting Milvus on its data")
        var env = ProcessInfo.processInfo.environment
        env["MILVUS_KEEP_DATA"] = "1"
        let log = TempDir("restart")
        FileManager.default.createFile(atPath: log.sub("log"), contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["\(repo)/scripts/services/milvus.sh", "start"]
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: log.sub("log"))!
        process.standardError = FileHandle(forWritingAtPath: log.sub("log"))!
        _ = try await runWithin(process, seconds: 150)
        let text = (try? String(contentsOfFile: log.sub("log"), encoding: .utf8)) ?? ""
        note("milvus.sh start: \(text.split(separator: "\n").last ?? "")")
        try #require(!process.isRunning && process.terminationStatus == 0, "restart failed: \(text)")
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            var options = try MilvusTestEnv.options()
            options.callTimeout = .seconds(3)
            options.attempts = 1
            let answered = try? await MilvusClient.with(options) { (client: MilvusClient) async throws -> Bool in try await client.hasCollection("probe") }
            if answered != nil {
                // The killed process's datanode session stays registered until its etcd lease
                // runs out (about 30 s); an Import sent before that may be given to the dead node
                // and stay pending until Milvus expires it (seen with Milvus 2.3.5: "node not
                // match", then "busy DataNode found" for 10 minutes). Wait it out.
                let settled = lastKill.addingTimeInterval(40).timeIntervalSinceNow
                if settled > 0 { try await Task.sleep(for: .seconds(settled)) }
                note("Milvus answers again")
                return
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        Issue.record("Milvus did not answer within 120 s of its restart")
    }

    /// Progress on stderr at once (the test output is only printed when a test ends).
    static func note(_ text: String) {
        FileHandle.standardError.write(Data("[fault \(Date())] \(text)\n".utf8))
    }

    @Test func killedDuringStartThenRerunIsExact() async throws {
        let s = try Setup()
        let first = try await s.killMilvusDuring("start")
        MilvusFaultTests.note("first start: exit \(first.status) after \(first.seconds) s: \(first.err)")
        #expect(first.status == 1, "\(first.err)")
        #expect(first.err.contains("Milvus at \(MilvusTestEnv.endpoint)") || first.err.contains("at \(MilvusTestEnv.endpoint)"), "\(first.err)")
        #expect(!first.err.contains("Row counts match"))
        try await MilvusFaultTests.restartMilvus()
        try await MilvusFaultTests.expectExactRerun(s, "start")
    }

    @Test func unreachableAtTheStartAndMidRunThenRerunIsExact() async throws {
        let s = try Setup(segments: 4, rows: 12_000)
        #expect(try await s.cli("dump").0 == 0)
        // Unreachable from the start: bounded retries, then one sentence naming the endpoint.
        MilvusFaultTests.killMilvus()
        let t0 = Date()
        let down = try await s.cli("load")
        let seconds = Date().timeIntervalSince(t0)
        MilvusFaultTests.note("load against a stopped Milvus: exit \(down.0) after \(String(format: "%.1f", seconds)) s: \(down.2)")
        #expect(down.0 == 1)
        #expect(down.2.contains("Milvus at \(MilvusTestEnv.endpoint)") && down.2.contains("unreachable"), "\(down.2)")
        #expect(seconds < 30)
        try await MilvusFaultTests.restartMilvus()
        // Unreachable mid-run: killed once an import task is recorded.
        let mid = try await s.killMilvusDuring("load")
        MilvusFaultTests.note("load with Milvus killed mid-run: exit \(mid.status) after \(String(format: "%.1f", mid.seconds)) s: \(mid.err)")
        #expect(mid.status == 1, "\(mid.err)")
        #expect(mid.err.contains("at \(MilvusTestEnv.endpoint)"), "\(mid.err)")
        try await MilvusFaultTests.restartMilvus()
        try await MilvusFaultTests.expectExactRerun(s, "load")
    }

    /// The rerun after Milvus came back (stalled tasks decided after 20 s): exit 0, the count
    /// check passes, Milvus holds exactly the source's rows, and `verify --full` passes.
    static func expectExactRerun(_ s: Setup, _ verb: String) async throws {
        let (status, out, err) = try await s.cli(verb, env: ["MILVUS_MIGRATION_IMPORT_STALL_SECONDS": "20"])
        MilvusFaultTests.note("rerun after the restart: exit \(status)\n\(err)")
        #expect(status == 0, "\(err)")
        #expect(out.contains("Row counts match the source."), "\(out)")
        #expect(try await s.rowCount() == Int64(s.totalRows))
        let verify = try await s.cli("verify", ["--full", "--load"])
        #expect(verify.0 == 0, "\(verify.1)\(verify.2)")
    }
}
