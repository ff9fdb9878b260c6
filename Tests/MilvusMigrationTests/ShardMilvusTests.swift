import Foundation
import Testing
@testable import MilvusMigration

/// Sharded `start` against the real Milvus 2.3.5: three shard processes at once into one
/// staging folder and one Milvus, a shard killed with SIGKILL and rerun, a rerun after success.
/// The whole is checked by `verify --full` (no shard), which reads every row back.
@Suite(.serialized, .enabled(if: milvusUp, "needs the Milvus started by scripts/test.sh"))
struct ShardMilvusTests {
    typealias Migration = LoadTests.Migration

    /// A CLI process running in the background, its output in files.
    struct Background {
        let process: Process
        let out: String
        let err: String
        let ended: Task<Void, Never>

        init(_ arguments: [String], tag: String, dir: String) throws {
            process = Process()
            process.executableURL = URL(fileURLWithPath: cliPath)
            process.arguments = arguments
            out = "\(dir)/sharding-\(tag).out"
            err = "\(dir)/sharding-\(tag).err"
            FileManager.default.createFile(atPath: out, contents: nil)
            FileManager.default.createFile(atPath: err, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
            ended = try launch(process)
        }

        func wait() async -> (Int32, String, String) {
            await ended.value
            return (process.terminationStatus, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                    (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
        }
    }

    static func start(_ m: Migration, shard: String) throws -> Background {
        try Background(["start", "-c", m.scenario.configPath, "--quiet", "--shard", shard],
                       tag: "start-\(shard.replacingOccurrences(of: "/", with: "-"))", dir: m.scenario.dir.path)
    }

    /// Import tasks Milvus lists for the test's collections.
    static func importTasks(_ m: Migration) async throws -> Int {
        try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Int in
            var n = 0
            for name in m.names.values { n += try await client.listImportTasks(collection: name).count }
            return n
        }
    }

    @Test func threeShardsAtOnceThenVerifyFullAndARerunImportsNothing() async throws {
        let m = try Migration(rows: 400, segments: 3)
        let shards = try (0..<3).map { try Self.start(m, shard: "\($0)/3") }
        for (i, shard) in shards.enumerated() {
            let (status, out, err) = await shard.wait()
            #expect(status == 0, "shard \(i): \(err)")
            #expect(out.contains("every row this shard imported is in Milvus"), "shard \(i): \(out)")
        }
        for i in 0..<3 {
            #expect(FileManager.default.fileExists(atPath: "\(m.scenario.staging)/journal.shard-\(i)-of-3.json"))
        }
        let verify = try await m.cli("verify", ["--full", "--load"])
        #expect(verify.0 == 0, "\(verify.1)\(verify.2)")
        #expect(verify.1.contains("Milvus matches the source."), "\(verify.1)")
        let tasks = try await Self.importTasks(m)
        #expect(tasks == 9, "one import per segment (3 tables x 3 segments)")

        // A rerun of every shard after success imports nothing.
        let again = try (0..<3).map { try Self.start(m, shard: "\($0)/3") }
        for (i, shard) in again.enumerated() {
            let (status, out, err) = await shard.wait()
            #expect(status == 0, "shard \(i): \(err)")
            #expect(out.contains("Nothing to import"), "shard \(i): \(out)")
        }
        #expect(try await Self.importTasks(m) == tasks)
        // Another shard count in the same staging folder is refused before anything is done.
        let other = try await m.cli("start", ["--shard", "0/2"])
        #expect(other.0 == 2)
        #expect(other.2.contains("of a run with 3 shards"), "\(other.2)")
        try await m.dropAll()
    }

    @Test func aShardKilledMidRunIsRerunExactly() async throws {
        // One import at a time, so the kill lands right after a task id is journaled: the import
        // step waits 0.2 s before its first GetImportState, and no RPC is in flight (Milvus 2.3.5's
        // proxy crashes when the context of an import RPC is cancelled).
        let m = try Migration(rows: 2000, segments: 3)
        var text = try String(contentsOfFile: m.scenario.configPath, encoding: .utf8)
        text = text.replacingOccurrences(of: "target:\n", with: "loader:\n  worker:\n    limit: 1\ntarget:\n")
        try text.write(toFile: m.scenario.configPath, atomically: true, encoding: .utf8)

        let others = try [0, 2].map { try Self.start(m, shard: "\($0)/3") }
        let victim = try Self.start(m, shard: "1/3")
        let journal = "\(m.scenario.staging)/journal.shard-1-of-3.json"
        // Polled with usleep on a thread of its own: the window between the journaled task id and
        // the end of the shard is short, and a busy cooperative pool could miss it.
        let process = victim.process
        let killed = try await onThread { () -> Bool in
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline && process.isRunning {
                if ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "").contains("\"importTask\"") {
                    kill(process.processIdentifier, SIGKILL)
                    return true
                }
                usleep(2000)
            }
            return false
        }
        await victim.ended.value
        #expect(killed && victim.process.terminationReason == .uncaughtSignal, "shard 1 finished before the kill; the test proves nothing")
        for (i, shard) in others.enumerated() {
            let (status, _, err) = await shard.wait()
            #expect(status == 0, "shard \(i == 0 ? 0 : 2): \(err)")
        }
        let rerun = try await Self.start(m, shard: "1/3").wait()
        #expect(rerun.0 == 0, "\(rerun.2)")
        #expect(rerun.1.contains("Shard 1/3: every row this shard imported is in Milvus"), "\(rerun.1)")
        let verify = try await m.cli("verify", ["--full", "--load"])
        #expect(verify.0 == 0, "\(verify.1)\(verify.2)")
        #expect(verify.1.contains("Milvus matches the source."), "\(verify.1)")
        #expect(try await Self.importTasks(m) == 9, "the killed shard's task was found, not started again")
        try await m.dropAll()
    }
}
