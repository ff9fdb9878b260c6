import Foundation
import Testing
import Milvus1xFixture
@testable import MilvusMigration

/// The test command starts a real Milvus 2.3.5 (with authentication on) and says so in
/// MM_SERVICES; these tests then run against it, and fail (not skip) when it is unreachable.
let milvusUp = (ProcessInfo.processInfo.environment["MM_SERVICES"] ?? "").split(separator: ",").contains("milvus")

enum MilvusTestEnv {
    static var endpoint: String { ProcessInfo.processInfo.environment["MILVUS_ENDPOINT"] ?? "127.0.0.1:19530" }
    static var user: String? { ProcessInfo.processInfo.environment["MILVUS_USER"] }
    static var password: String? { ProcessInfo.processInfo.environment["MILVUS_PASSWORD"] }
    static var authEnabled: Bool { ProcessInfo.processInfo.environment["MILVUS_AUTH"] == "1" }

    static func options(user: String? = MilvusTestEnv.user, password: String? = MilvusTestEnv.password) throws -> MilvusClient.Options {
        var o = MilvusClient.Options(endpoint: try MilvusEndpoint(parsing: endpoint))
        o.username = user
        o.password = password.map(Secret.init)
        return o
    }

    static func yaml(_ extra: [String: String] = [:], renames: [String: String]) -> String {
        var text = """
          milvus2x:
            endpoint: \(endpoint)
            username: \(user ?? "")
            password: \(password ?? "")

        """
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { text += "    \(k): \(v)\n" }
        text += "    collections:\n"
        for (from, to) in renames.sorted(by: { $0.key < $1.key }) { text += "      \(from): \(to)\n" }
        return text
    }
}

/// The `migration.yaml` of a local migration of the fixture `db` into the test Milvus: SQLite
/// meta, local source, staging under `outputDir`, `loaderLimit` imports at a time when given.
/// `loader` replaces the loader section and `milvus2x` the target.milvus2x section (raw YAML).
func localMigrationYAML(_ db: Milvus1xDatabase, outputDir: String, renames: [String: String], loaderLimit: Int? = nil,
                        loader: String? = nil, milvus2x: String? = nil) -> String {
    var text = """
    dumper:
      worker:
        workMode: milvus1x

    """
    if let loader { text += loader } else if let loaderLimit { text += "loader:\n  worker:\n    limit: \(loaderLimit)\n" }
    text += """
    meta:
      mode: sqlite
      sqliteFile: \(db.metaPath)
    source:
      mode: local
      local:
        tablesDir: \(db.tablesPath)
    target:
      mode: local
      local:
        outputDir: \(outputDir)

    """
    return text + (milvus2x ?? MilvusTestEnv.yaml([:], renames: renames))
}

@Suite(.serialized, .enabled(if: milvusUp, "needs the Milvus started by scripts/test.sh"))
struct LoadTests {
    /// The dump scenario with unique 2.x names, and load keys appended to its config.
    struct Migration {
        let scenario: DumpTests.Scenario
        let suffix = String(UUID().uuidString.prefix(8)).lowercased()
        var names: [String: String] { ["floats": "floats_\(suffix)", "bits": "bits_\(suffix)"] }

        init(rows: Int = 300, segments: Int = 2, extra: [String: String] = [:]) throws {
            scenario = try DumpTests.Scenario(rows: rows, segmentsPerTable: segments)
            try writeConfig(extra)
        }

        func writeConfig(_ extra: [String: String]) throws {
            var text = try String(contentsOfFile: scenario.configPath, encoding: .utf8)
            if let range = text.range(of: "  milvus2x:") { text = String(text[..<range.lowerBound]) }
            if !text.hasSuffix("\n") { text += "\n" }
            text += MilvusTestEnv.yaml(extra, renames: names)
            try text.write(toFile: scenario.configPath, atomically: true, encoding: .utf8)
        }

        func cli(_ verb: String, _ more: [String] = []) async throws -> (Int32, String, String) {
            try await run(cliPath, [verb, "-c", scenario.configPath, "--quiet"] + more)
        }

        /// Runs `verb` in the background and sends `signal` once the journal contains `marker`.
        func signal(_ signal: Int32, verb: String, onceJournalContains marker: String) async throws -> Process {
            try await self.signal(signal, verb: verb) { $0.contains(marker) }
        }

        /// Runs `verb` in the background and sends `signal` once `ready` holds for the journal's text.
        /// The journal is polled every millisecond on a thread of its own (`onThread`): a poll on
        /// the cooperative pool can lag by seconds in a loaded test run, and a SIGKILL that lands
        /// after the load's 0.2 s pause cuts a GetImportState, which crashes Milvus 2.3.5.
        func signal(_ signal: Int32, verb: String, once ready: @escaping @Sendable (String) -> Bool) async throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: cliPath)
            process.arguments = [verb, "-c", scenario.configPath, "--quiet"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            let ended = try launch(process)
            let journal = "\(scenario.staging)/journal.json"
            try await onThread {
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline {
                    if ready((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "") { break }
                    usleep(1000)
                }
                kill(process.processIdentifier, signal)
            }
            await ended.value
            return process
        }

        /// Drops this test's collections (each test uses its own names, so leftovers never collide).
        func dropAll() async throws {
            let names = Array(self.names.values)
            try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Void in
                for name in names where try await client.hasCollection(name) { try await client.dropCollection(name) }
            }
        }
    }

    @Test func floatBinaryPartitionsDeletionsEveryRowCompared() async throws {
        let m = try Migration(extra: ["loadCollection": "true"])
        let dump = try await m.cli("dump")
        #expect(dump.0 == 0, "\(dump.2)")
        let (status, out, err) = try await m.cli("load")
        #expect(status == 0, "\(err)")
        #expect(out.contains("Row counts match the source."))
        try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Void in
            for (key, rows) in m.scenario.expected {
                let parts = key.split(separator: "/").map(String.init)
                let target = m.names[parts[0]]!
                let partition = parts[1]
                #expect(try await client.rowCount(collection: target, partition: partition) == Int64(rows.count), "\(key)")
                var got: [Int64: [UInt8]] = [:]
                for batch in stride(from: 0, to: rows.count, by: 500) {
                    let ids = rows[batch..<min(rows.count, batch + 500)].map(\.0)
                    for (id, vector) in try await client.query(collection: target, idField: "id", vectorField: "data", ids: ids, partitions: [partition]) {
                        #expect(got[id] == nil, "id \(id) returned twice")
                        got[id] = vector
                    }
                }
                #expect(got.count == rows.count, "\(key): \(got.count) of \(rows.count) rows found")
                let mismatched = rows.filter { got[$0.0] != $0.1 }
                #expect(mismatched.isEmpty, "\(key): \(mismatched.count) rows differ, first id \(mismatched.first?.0 ?? -1)")
            }
            // Deleted rows did not come back: offsets 0, 2, 5 of every segment were deleted.
            let firstFloatSegmentBase: Int64 = 1000
            let deletedIds = [0, 2, 5].map { firstFloatSegmentBase + Int64($0) * 3 }
            #expect(try await client.query(collection: m.names["floats"]!, idField: "id", vectorField: "data", ids: deletedIds).isEmpty)
            #expect(try await client.countRows(collection: m.names["bits"]!) == Int64(m.scenario.expected["bits/_default"]!.count))
        }
        try await m.dropAll()
    }

    @Test func rerunAfterSuccessImportsNothing() async throws {
        let m = try Migration(rows: 50, segments: 1)
        #expect(try await m.cli("dump").0 == 0)
        #expect(try await m.cli("load").0 == 0)
        let (status, out, err) = try await m.cli("load")
        #expect(status == 0, "\(err)")
        #expect(out.contains("Nothing to import: every segment was imported by an earlier run."))
        try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Void in
            // 2 float segments (default + p_1) and 1 binary segment of 50 rows, 5 distinct offsets deleted in each.
            #expect(try await client.rowCount(collection: m.names["floats"]!) == 90)
            #expect(try await client.rowCount(collection: m.names["bits"]!) == 45)
        }
        try await m.dropAll()
    }

    @Test func killedLoadResumesWithExactCounts() async throws {
        let m = try Migration(rows: 2000, segments: 3, extra: [:])
        // One import at a time, killed once the second segment's task id is journaled: the
        // first segment is imported, the second is in flight and the third untouched. The load
        // is then in its first 0.2 s pause before polling, so no Import RPC is cut: Milvus 2.3.5's
        // proxy dies (nil dereference) when a client vanishes during GetImportState or Import.
        let config = try String(contentsOfFile: m.scenario.configPath, encoding: .utf8)
        try ("loader:\n  worker:\n    limit: 1\n" + config).write(toFile: m.scenario.configPath, atomically: true, encoding: .utf8)
        #expect(try await m.cli("dump").0 == 0)
        let process = try await m.signal(SIGKILL, verb: "load") { $0.components(separatedBy: "\"importTask\"").count > 2 }
        #expect(process.terminationReason == .uncaughtSignal, "load finished before the kill; the test proves nothing")
        let (status, out, err) = try await m.cli("load")
        #expect(status == 0, "\(err)")
        #expect(out.contains("Row counts match the source."))
        let total = m.scenario.expected.filter { $0.key.hasPrefix("floats/") }.reduce(0) { $0 + $1.value.count }
        try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Void in
            #expect(try await client.rowCount(collection: m.names["floats"]!) == Int64(total))
        }
        try await m.dropAll()
    }

    @Test func existingCollectionPolicies() async throws {
        let m = try Migration(rows: 30, segments: 1)
        #expect(try await m.cli("dump").0 == 0)
        let floats = m.names["floats"]!
        // Someone else's collection with the same name.
        try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Void in
            try await client.createCollection(floats, schema: TargetSchema(idField: "id", vectorField: "data", vectorKind: .float, dimension: 5), description: "other", shards: 1)
        }
        let failed = try await m.cli("load")
        #expect(failed.0 == 1)
        #expect(failed.2.contains("collection '\(floats)': already exists in Milvus") && failed.2.contains("onExisting"))

        try m.writeConfig(["onExisting": "skip"])
        let skipped = try await m.cli("load", ["--col", "floats"])
        #expect(skipped.0 == 0, "\(skipped.2)")
        #expect(skipped.1.contains("skipped"))

        try m.writeConfig(["onExisting": "append"])
        let appended = try await m.cli("load", ["--col", "floats"])
        #expect(appended.0 == 0, "\(appended.2)")
        try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Void in
            #expect(try await client.rowCount(collection: floats) == 50)
            // A different schema is refused with both schemas shown.
            try await client.dropCollection(floats)
            try await client.createCollection(floats, schema: TargetSchema(idField: "id", vectorField: "data", vectorKind: .float, dimension: 7), description: "other", shards: 1)
        }
        // The journal says these segments are imported; start the load over for the new collection.
        try FileManager.default.removeItem(atPath: "\(m.scenario.staging)/journal.json")
        #expect(try await m.cli("dump").0 == 0)
        let mismatch = try await m.cli("load", ["--col", "floats"])
        #expect(mismatch.0 == 1)
        #expect(mismatch.2.contains("exists with another schema: Milvus has [id Int64 primary key, data FloatVector(7)], the migration needs [id Int64 primary key, data FloatVector(5)]"))

        try m.writeConfig(["onExisting": "drop"])
        let dropped = try await m.cli("load", ["--col", "floats"])
        #expect(dropped.0 == 0, "\(dropped.2)")
        try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Void in
            #expect(try await client.rowCount(collection: floats) == 50)
            let (schema, _) = try await client.describeCollection(floats)
            #expect(schema?.dimension == 5)
        }
        try await m.dropAll()
    }

    @Test func importFailureReachesTheUserVerbatim() async throws {
        let m = try Migration(rows: 20, segments: 1)
        #expect(try await m.cli("dump").0 == 0)
        // Corrupt one staged vector file: a header that claims dim 4 instead of 5 (sizes kept consistent).
        let file = try #require(FileManager.default.subpaths(atPath: m.scenario.staging)?.first { $0.hasPrefix("tables/floats/") && !$0.contains("p_1") && $0.hasSuffix("data.npy") })
        let path = "\(m.scenario.staging)/\(file)"
        let header = NumPyHeader(dtype: .float32, shape: [20, 4]).encoded()
        let bytes = header + [UInt8](repeating: 0, count: 20 * 16)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        // Recorded as staged that way, so the file reaches Milvus (the checksum check would stop it first).
        let journal = try await JobJournal.open(LocalStagingArea(root: m.scenario.staging))
        let record = try #require(await journal.all.first { $0.files.contains { $0.path == file } })
        var sum = Checksum64()
        bytes.withUnsafeBytes { sum.update($0) }
        let files = record.files.map { $0.path == file ? StagedFileRecord(path: file, bytes: Int64(bytes.count), checksum: sum.hex) : $0 }
        try await journal.apply(.staged(files: files, rows: record.rows, deletedRows: record.deletedRows, fingerprint: record.sourceFingerprint), to: record.key)
        let (status, _, err) = try await m.cli("load", ["--col", "floats"])
        #expect(status == 1)
        #expect(err.contains("illegal dimension 4 of numpy file for float vector field 'data', dimension should be 5"), "\(err)")
        #expect(err.contains("segment floats/_default/"))
        try await m.dropAll()
    }

    @Test func unreachableEndpointIsNamed() async throws {
        let m = try Migration(rows: 10, segments: 1)
        #expect(try await m.cli("dump").0 == 0)
        var text = try String(contentsOfFile: m.scenario.configPath, encoding: .utf8)
        text = text.replacingOccurrences(of: "endpoint: \(MilvusTestEnv.endpoint)", with: "endpoint: 127.0.0.1:1")
        try text.write(toFile: m.scenario.configPath, atomically: true, encoding: .utf8)
        let (status, _, err) = try await m.cli("load")
        #expect(status == 1)
        #expect(err.contains("Milvus at 127.0.0.1:1: unreachable"))
    }

    @Test(.enabled(if: MilvusTestEnv.authEnabled, "the test command starts Milvus with authentication"))
    func wrongCredentialsAreRefused() async throws {
        let m = try Migration(rows: 10, segments: 1)
        #expect(try await m.cli("dump").0 == 0)
        var text = try String(contentsOfFile: m.scenario.configPath, encoding: .utf8)
        text = text.replacingOccurrences(of: "password: \(MilvusTestEnv.password ?? "")", with: "password: wrong-password")
        try text.write(toFile: m.scenario.configPath, atomically: true, encoding: .utf8)
        let (status, _, err) = try await m.cli("load")
        #expect(status == 1)
        #expect(err.contains("authentication failed for user 'root'"), "\(err)")
        #expect(!err.contains("wrong-password"))
    }
}

@Suite(.serialized, .enabled(if: milvusUp, "needs the Milvus started by scripts/test.sh"))
struct StartAndVerifyTests {
    typealias Migration = LoadTests.Migration

    @Test func startMigratesAndVerifyPasses() async throws {
        let m = try Migration(rows: 400, segments: 2)
        let (status, out, err) = try await m.cli("start", ["--report", m.scenario.dir.sub("report.json")])
        #expect(status == 0, "\(err)")
        #expect(out.contains("Row counts match the source."))
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: m.scenario.dir.sub("report.json")))) as! [String: Any]
        let collections = report["collections"] as! [[String: Any]]
        #expect(collections.count == 2)
        #expect(collections.allSatisfy { ($0["importTasks"] as! [Any]).count == ($0["segments"] as! Int) && ($0["deletedRowsSkipped"] as! Int) > 0 })

        let (vStatus, vOut, vErr) = try await m.cli("verify", ["--full", "--load", "--json"])
        #expect(vStatus == 0, "\(vErr)")
        let json = try JSONSerialization.jsonObject(with: Data(vOut.utf8)) as! [String: Any]
        #expect(json["ok"] as? Bool == true)
        let compared = (json["collections"] as! [[String: Any]]).reduce(0) { $0 + ($1["rowsCompared"] as! Int) }
        #expect(compared == m.scenario.expected.values.reduce(0) { $0 + $1.count })
        // A sample also passes, and a second start has nothing to do.
        #expect(try await m.cli("verify", ["--sample", "50"]).0 == 0)
        let again = try await m.cli("start")
        #expect(again.0 == 0 && again.1.contains("Nothing to import"))
        try await m.dropAll()
    }

    @Test func interruptedStartThenRerun() async throws {
        let m = try Migration(rows: 3000, segments: 3)
        // Ctrl-C once an import task is recorded: the job stops cleanly and says so.
        let process = try await m.signal(SIGINT, verb: "start", onceJournalContains: "\"importTask\"")
        #expect(process.terminationStatus == 1, "start should stop with an error after SIGINT")
        let (status, out, err) = try await m.cli("start")
        #expect(status == 0, "\(err)")
        #expect(out.contains("Row counts match the source."))
        #expect(try await m.cli("verify", ["--full", "--load"]).0 == 0)
        try await m.dropAll()
    }

    @Test func verifyCatchesAlteredRows() async throws {
        let m = try Migration(rows: 60, segments: 1, extra: ["loadCollection": "true"])
        #expect(try await m.cli("start").0 == 0)
        let floats = m.names["floats"]!
        let victim = m.scenario.expected["floats/_default"]![3]
        // Another row with the same id and a different vector (an upsert in effect: Milvus returns the newest).
        try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Void in
            _ = try await client.insert(collection: floats, partition: nil, fields: FieldNames(),
                                        batch: RowBatch(ids: [victim.0], vectors: .float([9, 9, 9, 9, 9]), dimension: 5), subject: "test")
        }
        let (status, out, err) = try await m.cli("verify", ["--full"])
        #expect(status == 1)
        #expect(out.contains("collection '\(floats)' partition '_default' id \(victim.0): vector differs"), "\(out)")
        #expect(out.contains("Milvus [9.0, 9.0, 9.0, 9.0, …]"))
        // Once flushed, the statistics count the extra row too.
        #expect(out.contains("collection '\(floats)': Milvus has 111 rows, the source has 110 live rows"))
        #expect(err.contains("mismatch(es) between Milvus and the source"))
        // A collection that is missing entirely.
        try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Void in
            try await client.dropCollection(m.names["bits"]!)
        }
        let missing = try await m.cli("verify", ["--col", "bits"])
        #expect(missing.0 == 1 && missing.1.contains("collection '\(m.names["bits"]!)': does not exist in Milvus"))
        try await m.dropAll()
    }

    /// 8192-dimensional vectors (32 KiB a row): imports and Query responses of several MiB.
    @Test func largeDimensionsMigrateAndVerify() async throws {
        let dir = TempDir("bigdim")
        let db = try Milvus1xDatabase(root: dir.sub("db"))
        db.addCollection("wide", dimension: 8192, metric: 2)
        try db.addSegment(table: "wide", rows: 400, id: { Int64($0) * 5 + 1 }, vector: { row, b in
            for i in 0..<8192 { b.storeBytes(of: Float(row &* 31 &+ i).bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        }, deleteBatches: [[17, 3]])
        try db.finish()
        let target = "wide_\(UUID().uuidString.prefix(8).lowercased())"
        let config = dir.sub("migration.yaml")
        try localMigrationYAML(db, outputDir: dir.sub("out"), renames: ["wide": target]).write(toFile: config, atomically: true, encoding: .utf8)
        let start = try await run(cliPath, ["start", "-c", config, "--quiet"])
        #expect(start.0 == 0, "\(start.2)")
        let verify = try await run(cliPath, ["verify", "-c", config, "--full", "--load"])
        #expect(verify.0 == 0, "\(verify.1)\(verify.2)")
        #expect(verify.1.contains("398 row(s) compared by id and vector bytes (every live row)."))
        // Progress on stderr: a line per index build and load, then the rows compared.
        #expect(verify.2.contains("verify: collection '\(target)': building its ") && verify.2.contains("verify: collection '\(target)': loading"), "\(verify.2)")
        #expect(verify.2.contains("verify: 398 of 398 rows compared (100%)"), "\(verify.2)")
        try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Void in
            try await client.dropCollection(target)
        }
    }

    @Test func verifyDoesNotCreateADatabase() async throws {
        let m = try Migration(rows: 10, segments: 1)
        let database = "nodb_\(m.suffix)"
        try m.writeConfig(["database": database])
        let (status, _, err) = try await m.cli("verify")
        #expect(status == 1)
        #expect(err.contains("database '\(database)': does not exist"), "\(err)")
    }

    @Test func verifyNeedsALoadedCollection() async throws {
        let m = try Migration(rows: 20, segments: 1)
        #expect(try await m.cli("start").0 == 0)
        let (status, _, err) = try await m.cli("verify", ["--col", "bits"])
        #expect(status == 1)
        #expect(err.contains("is not loaded") && err.contains("--load"), "\(err)")
        try await m.dropAll()
    }
}
