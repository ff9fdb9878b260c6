import Foundation
import Testing
import Milvus1xFixture
@testable import MilvusMigration

/// Runs the CLI in the background and sends `signal` once `ready(pid, stderr so far)` holds
/// (checked every millisecond, at most `within` seconds); returns how it ended and what it printed.
/// The watching runs on a thread of its own (`onThread`), not on the test's cooperative pool: a
/// watcher waiting for a turn on a busy pool would miss a window that lasts a fraction of a second.
func signalCLI(_ arguments: [String], signal: Int32, within: Double = 60, ready: @escaping (Int32, String) -> Bool) async throws
    -> (status: Int32, reason: Process.TerminationReason, out: String, err: String) {
    let box = SignalRun(arguments: arguments, signal: signal, within: within, ready: ready)
    return try await onThread { try box.run() }
}

/// One `signalCLI` run, handed to its watcher thread.
private final class SignalRun: @unchecked Sendable {
    let arguments: [String], signal: Int32, within: Double, ready: (Int32, String) -> Bool

    init(arguments: [String], signal: Int32, within: Double, ready: @escaping (Int32, String) -> Bool) {
        self.arguments = arguments
        self.signal = signal
        self.within = within
        self.ready = ready
    }

        func run() throws -> (status: Int32, reason: Process.TerminationReason, out: String, err: String) {
        let dir = TempDir("sig")
        FileManager.default.createFile(atPath: dir.sub("out"), contents: nil)
        FileManager.default.createFile(atPath: dir.sub("err"), contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cliPath)
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: dir.sub("out"))!
        process.standardError = FileHandle(forWritingAtPath: dir.sub("err"))!
        try process.run()
        let deadline = Date().addingTimeInterval(within)
        while Date() < deadline && process.isRunning
                && !ready(process.processIdentifier, (try? String(contentsOfFile: dir.sub("err"), encoding: .utf8)) ?? "") {
            usleep(1000)
        }
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason,
                (try? String(contentsOfFile: dir.sub("out"), encoding: .utf8)) ?? "",
                (try? String(contentsOfFile: dir.sub("err"), encoding: .utf8)) ?? "")
    }
}

/// Whether process `pid` has handlers for SIGINT and SIGTERM (its `SigCgt` mask in /proc):
/// the earliest moment a signal can be handled at all.
func catchesSignals(_ pid: Int32) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
          let mask = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) else { return false }
    return mask & (1 << (UInt64(SIGINT) - 1)) != 0 && mask & (1 << (UInt64(SIGTERM) - 1)) != 0
}

/// Whether `path`'s text contains `marker`.
func fileContains(_ path: String, _ marker: String) -> Bool {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains(marker)
}

/// How often `marker` occurs in `path`'s text.
func occurrences(_ path: String, _ marker: String) -> Int {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").components(separatedBy: marker).count - 1
}

/// Asserts the outcome of an interrupted command: exit 1, the "interrupted" sentence, no summary.
func expectInterrupted(_ r: (status: Int32, reason: Process.TerminationReason, out: String, err: String), _ what: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.reason == .exit && r.status == 1, "\(what): \(r.reason) \(r.status): \(r.err)", sourceLocation: sourceLocation)
    #expect(r.err.contains("interrupted;") && r.err.contains("a rerun continues"), "\(what): \(r.err)", sourceLocation: sourceLocation)
    for summary in ["Dumped", "Row counts match", "Nothing to import", "rows compared", "\"ok\""] {
        #expect(!r.out.contains(summary), "\(what) printed a success summary: \(r.out)", sourceLocation: sourceLocation)
    }
}

/// Ctrl-C and SIGTERM to `dump` (no services needed).
@Suite(.serialized) struct DumpInterruptTests {
    @Test(arguments: [SIGINT, SIGTERM])
    func interruptedDumpExitsNonZeroAndRerunCompletes(_ sig: Int32) async throws {
        let s = try DumpTests.Scenario(rows: 200_000, segmentsPerTable: 2)
        let args = ["dump", "-c", s.configPath, "--quiet"]
        // Very early: before the job has started (config, plan).
        let early = try await signalCLI(args, signal: sig, within: 10) { pid, _ in catchesSignals(pid) }
        expectInterrupted(early, "dump, signal at once")
        // Mid-run: once the first staged file is committed. One segment at a time, so the six
        // cannot all be done by the time the signal lands, even on a loaded machine.
        try String(contentsOfFile: s.configPath, encoding: .utf8).replacingOccurrences(of: "limit: 3", with: "limit: 1")
            .write(toFile: s.configPath, atomically: true, encoding: .utf8)
        let mid = try await signalCLI(args, signal: sig) { _, _ in
            (FileManager.default.subpaths(atPath: s.staging) ?? []).contains { $0.hasSuffix(".npy") }
        }
        expectInterrupted(mid, "dump, signal mid-run")
        let journal = try await JobJournal.open(LocalStagingArea(root: s.staging))
        let staged = await journal.all.filter { $0.phase == .staged }.count
        #expect(staged < 6, "the dump finished before the signal; the test proves nothing")
        // The rerun completes.
        let (status, out, err) = try await run(cliPath, args)
        #expect(status == 0, "\(err)")
        #expect(out.contains("Dumped"))
    }

    /// A staged file whose content changed after the dump (one flipped byte) is found before an
    /// import: its record goes back to "needs staging", and the next dump writes it again.
    @Test func flippedByteIsFoundAndRestaged() async throws {
        let s = try DumpTests.Scenario(rows: 300, segmentsPerTable: 1)
        #expect(try await run(cliPath, ["dump", "-c", s.configPath, "--quiet"]).0 == 0)
        let staging = LocalStagingArea(root: s.staging)
        let journal = try await JobJournal.open(staging)
        let record = try #require(await journal.all.first { $0.key.hasPrefix("floats/_default/") })
        let victim = "\(s.staging)/\(record.files[1].path)"
        let original = try readBytes(victim)
        try flipByte(victim, at: original.count - 7)
        let problem = try await StagedFileCheck.firstProblem(record, staging: staging)
        #expect(problem?.description.contains(victim) == true && problem?.description.contains("rerun dump") == true, "\(String(describing: problem))")
        // Only the header and size are compared on a dump rerun; the content check marks it.
        await #expect(throws: MigrationError.self) { try await StagedFileCheck.requireIntact(record, staging: staging, journal: journal) }
        #expect(await journal.record(record.key)?.step == .stage)
        #expect(try await run(cliPath, ["dump", "-c", s.configPath, "--quiet"]).0 == 0)
        #expect(try readBytes(victim) == original)
        let reread = try await JobJournal.open(staging)
        let restaged = try #require(await reread.record(record.key))
        #expect(try await StagedFileCheck.firstProblem(restaged, staging: staging) == nil)
    }
}

func flipByte(_ path: String, at offset: Int) throws {
    let handle = try #require(FileHandle(forUpdatingAtPath: path))
    try handle.seek(toOffset: UInt64(offset))
    let byte = try #require(try handle.read(upToCount: 1)).first!
    try handle.seek(toOffset: UInt64(offset))
    try handle.write(contentsOf: [byte ^ 0x40])
    try handle.close()
}

/// Resume behaviour against the real Milvus of the test command.
@Suite(.serialized, .enabled(if: milvusUp, "needs the Milvus started by scripts/test.sh"))
struct ResumeTests {
    typealias Migration = LoadTests.Migration

    func rows(_ m: Migration) async throws -> [String: Int64] {
        try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> [String: Int64] in
            var out: [String: Int64] = [:]
            for (source, target) in m.names { out[source] = try await client.rowCount(collection: target) }
            return out
        }
    }

    var expectedRows: (Migration) -> [String: Int64] {
        { m in
            var out: [String: Int64] = [:]
            for (key, rows) in m.scenario.expected { out[String(key.split(separator: "/")[0]), default: 0] += Int64(rows.count) }
            return out
        }
    }

    /// Defect 2: a re-dump of an imported segment that fails, then succeeds, must not lead to a
    /// second import of its rows.
    @Test func failedRedumpOfImportedSegmentIsNotImportedTwice() async throws {
        let m = try Migration(rows: 500, segments: 2)
        #expect(try await m.cli("dump").0 == 0)
        #expect(try await m.cli("load").0 == 0)
        // The staged folder of one segment is replaced by a file: staging it again fails.
        let journal = try await JobJournal.open(LocalStagingArea(root: m.scenario.staging))
        let record = try #require(await journal.all.first { $0.key.hasPrefix("floats/_default/") })
        let task = try #require(record.importTask)
        let folder = "\(m.scenario.staging)/\((record.files[0].path as NSString).deletingLastPathComponent)"
        try FileManager.default.removeItem(atPath: folder)
        try Data("not a folder".utf8).write(to: URL(fileURLWithPath: folder))
        let redump = try await m.cli("dump")
        // The imported segment is not staged again (before the fix: "dump failed", then `failed` without its task).
        #expect(redump.0 == 0, "\(redump.2)")
        let rereadJournal = try await JobJournal.open(LocalStagingArea(root: m.scenario.staging))
        let after = try #require(await rereadJournal.record(record.key))
        #expect(after.phase == .imported && after.importTask == task)
        try FileManager.default.removeItem(atPath: folder)
        #expect(try await m.cli("dump").0 == 0)
        let (status, out, err) = try await m.cli("load")
        #expect(status == 0, "\(err)")
        #expect(out.contains("Nothing to import"), "\(out)")
        #expect(try await rows(m) == expectedRows(m))
        #expect(try await m.cli("verify", ["--full", "--load"]).0 == 0)
        try await m.dropAll()
    }

    /// Defect 10 through `load`: a flipped byte in a kernel-copied staged file (a segment without
    /// deletions) is not imported; the error names the file; dump restages it; verify passes.
    @Test func corruptedStagedFileIsNotImportedByLoad() async throws {
        let dir = TempDir("corrupt")
        let db = try Milvus1xDatabase(root: dir.sub("db"))
        db.addCollection("plain", dimension: 8, metric: 2)
        for s in 0..<2 {
            try db.addSegment(table: "plain", rows: 1500 + 100 * s, id: { Int64(s * 100_000 + $0) }, vector: { row, b in
                for i in 0..<8 { b.storeBytes(of: Float(row &* 13 &+ i &+ s).bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
            })
        }
        try db.finish()
        let target = "plain_\(UUID().uuidString.prefix(8).lowercased())"
        let config = try writeConfig(dir, db: db, renames: ["plain": target])
        func cli(_ verb: String, _ more: [String] = []) async throws -> (Int32, String, String) { try await run(cliPath, [verb, "-c", config, "--quiet"] + more) }
        #expect(try await cli("dump").0 == 0)
        let staging = LocalStagingArea(root: dir.sub("out/migration"))
        let opened = try await JobJournal.open(staging)
        let record = try #require(await opened.all.first)
        #expect(!record.files[1].checksum.hasPrefix("header:"), "kernel-copied files get a full checksum")
        let victim = "\(staging.root)/\(record.files[1].path)"
        try flipByte(victim, at: 128 + 4 * 8 * 700 + 2)
        let load = try await cli("load")
        #expect(load.0 == 1)
        #expect(load.2.contains(victim) && load.2.contains("rerun dump"), "\(load.2)")
        #expect(try await cli("dump").0 == 0)
        let again = try await cli("load")
        #expect(again.0 == 0, "\(again.2)")
        let verify = try await cli("verify", ["--full", "--load"])
        #expect(verify.0 == 0, "\(verify.1)\(verify.2)")
        try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Void in try await client.dropCollection(target) }
    }

    /// Defect 10 through `start`: the corrupted file is staged again and the migration is exact.
    @Test func corruptedStagedFileIsRestagedByStart() async throws {
        let m = try Migration(rows: 400, segments: 2)
        #expect(try await m.cli("dump").0 == 0)
        let opened = try await JobJournal.open(LocalStagingArea(root: m.scenario.staging))
        let record = try #require(await opened.all.first { $0.key.hasPrefix("floats/_default/") })
        try flipByte("\(m.scenario.staging)/\(record.files[1].path)", at: Int(record.files[1].bytes) - 9)
        let (status, _, err) = try await m.cli("start")
        #expect(status == 0, "\(err)")
        #expect(err.contains("does not match the checksum") && err.contains("staging it again"), "\(err)")
        let verify = try await m.cli("verify", ["--full", "--load"])
        #expect(verify.0 == 0, "\(verify.1)\(verify.2)")
        try await m.dropAll()
    }

    /// Every job command, SIGINT and SIGTERM, very early and mid-run: exit 1, "interrupted", no
    /// success summary; the rerun completes and verify --full passes.
    @Test func interruptedCommandsExitNonZeroAndRerunsComplete() async throws {
        let m = try Migration(rows: 3000, segments: 3)
        let journal = "\(m.scenario.staging)/journal.json"
        func args(_ verb: String, _ more: [String] = []) -> [String] { [verb, "-c", m.scenario.configPath, "--quiet"] + more }
        let early: (Int32, String) -> Bool = { pid, _ in catchesSignals(pid) }
        // Mid-run: once one more import task is recorded than before the command started.
        func oneMoreTask() -> (Int32, String) -> Bool {
            let before = occurrences(journal, "\"importTask\"")
            return { _, _ in occurrences(journal, "\"importTask\"") > before }
        }
        expectInterrupted(try await signalCLI(args("dump"), signal: SIGTERM, ready: early), "dump SIGTERM early")
        expectInterrupted(try await signalCLI(args("start"), signal: SIGINT, ready: oneMoreTask()), "start SIGINT mid-run")
        expectInterrupted(try await signalCLI(args("start"), signal: SIGTERM, ready: early), "start SIGTERM early")
        #expect(try await m.cli("dump").0 == 0)
        expectInterrupted(try await signalCLI(args("load"), signal: SIGINT, ready: early), "load SIGINT early")
        expectInterrupted(try await signalCLI(args("load"), signal: SIGTERM, ready: oneMoreTask()), "load SIGTERM mid-run")
        let done = try await m.cli("start")
        #expect(done.0 == 0, "\(done.2)")
        #expect(try await rows(m) == expectedRows(m))
        expectInterrupted(try await signalCLI(args("verify", ["--full", "--load"]), signal: SIGINT, ready: early), "verify SIGINT early")
        // Mid-run: once connected (planning is done; comparing runs).
        expectInterrupted(try await signalCLI(args("verify", ["--full", "--load"]), signal: SIGTERM) { _, err in err.contains("connected to Milvus") },
                          "verify SIGTERM mid-run")
        let verify = try await m.cli("verify", ["--full", "--load"])
        #expect(verify.0 == 0, "\(verify.2)")
        try await m.dropAll()
    }

    func writeConfig(_ dir: TempDir, db: Milvus1xDatabase, renames: [String: String]) throws -> String {
        let config = dir.sub("migration.yaml")
        try localMigrationYAML(db, outputDir: dir.sub("out"), renames: renames).write(toFile: config, atomically: true, encoding: .utf8)
        return config
    }
}
