import Foundation
import Testing
@testable import MilvusMigration

/// Staging without an fsync per file (`dumper.worker.fsync: false`): the journal records the boot
/// each segment was staged in, a run in another boot reads kept files back before trusting them,
/// and `target.cleanup` removes staged files only after import and counts. Every test runs
/// against the in-memory target, no services.
@Suite struct StagingDurabilityTests {
    typealias Fixture = PipelineTests.Fixture
    static let otherBoot = "00000000-0000-4000-8000-000000000000"

    /// Rewrites every segment's `stagedBoot` in the journal file, as a run after a reboot finds
    /// it (nil: remove the key, as in journals written before it existed).
    static func setStagedBoot(_ boot: String?, in staging: String) throws {
        let path = "\(staging)/\(JobJournal.fileName)"
        var file = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let segments = try #require(file["segments"] as? [[String: Any]])
        file["segments"] = segments.map { segment in
            var s = segment
            s["stagedBoot"] = boot
            return s
        }
        try JSONSerialization.data(withJSONObject: file, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path))
    }

    static func inode(_ path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    /// Every staged file's bytes, by path relative to the staging root.
    static func snapshot(_ records: [SegmentRecord], staging: String) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for r in records { for file in r.files { out[file.path] = try readBytes("\(staging)/\(file.path)") } }
        return out
    }

    @Test func bootIdIsReadAndCompared() {
        let current = BootId.current
        #expect(current?.count == 36, "a UUID: \(String(describing: current))")
        #expect(BootId.read("/nonexistent/boot_id") == nil)
        #expect(!BootId.isUnverified("a", current: "a"))
        #expect(BootId.isUnverified("a", current: "b"))
        #expect(BootId.isUnverified(nil, current: "a"), "a journal without the boot is from an unknown boot")
        #expect(BootId.isUnverified("a", current: nil), "without a boot id every kept file is checked")
    }

    /// Same boot: a dump rerun trusts the kept files by size and header (no read-back), so a
    /// byte changed inside one goes unnoticed by dump, as designed; `start` still reads it
    /// back before importing it and stages it again.
    @Test func inTheSameBootADumpRerunDoesNotReadStagedFilesBack() async throws {
        let f = try await Fixture()
        _ = try await f.pipeline.dump(f.plan, from: f.source)
        let records = try await f.journal().all
        #expect(records.count == f.segments && records.allSatisfy { $0.stagedBoot == BootId.current && $0.stagedBoot != nil })
        let originals = try Self.snapshot(records, staging: f.scenario.staging)
        let victim = "\(f.scenario.staging)/\(records[0].files[1].path)"
        try flipByte(victim, at: Int(records[0].files[1].bytes) - 5)
        let inode = Self.inode(victim)

        let rerun = try await f.pipeline.dump(f.plan, from: f.source)
        #expect(rerun.collections.map(\.segments).reduce(0, +) == 0)
        #expect(rerun.collections.map(\.skippedSegments).reduce(0, +) == f.segments)
        let kept = try readBytes(victim)
        #expect(Self.inode(victim) == inode && kept != originals[records[0].files[1].path], "not read back, not rewritten")

        _ = try await f.start()
        await f.expectExact()
        #expect(try readBytes(victim) == originals[records[0].files[1].path], "start checks before importing")
    }

    /// Another boot: a dump rerun reads every kept file back; a file with a changed byte, a
    /// short one and a missing one are staged again, the good ones are kept as they are (same
    /// inode) and recorded as checked in this boot, so the next dump does not read them again.
    @Test func afterARebootADumpChecksKeptFilesAndRestagesOnlyTheBadOnes() async throws {
        let f = try await Fixture()
        _ = try await f.pipeline.dump(f.plan, from: f.source)
        let records = try await f.journal().all
        let staging = f.scenario.staging
        let originals = try Self.snapshot(records, staging: staging)
        let (flipped, short, missing) = (records[0].files[1], records[1].files[1], records[2].files[0])
        try flipByte("\(staging)/\(flipped.path)", at: Int(flipped.bytes) - 3)
        let handle = try #require(FileHandle(forUpdatingAtPath: "\(staging)/\(short.path)"))
        try handle.truncate(atOffset: UInt64(short.bytes - 4))
        try handle.close()
        #expect(unlink("\(staging)/\(missing.path)") == 0)
        let good = records[3...].flatMap(\.files).map { ($0.path, Self.inode("\(staging)/\($0.path)")) }
        try Self.setStagedBoot(Self.otherBoot, in: staging)

        let rerun = try await f.pipeline.dump(f.plan, from: f.source)
        #expect(rerun.collections.map(\.segments).reduce(0, +) == 3, "exactly the three bad segments are staged again")
        #expect(try Self.snapshot(records, staging: staging) == originals)
        for (path, inode) in good { #expect(Self.inode("\(staging)/\(path)") == inode, "\(path) kept, not rewritten") }
        let after = try await f.journal().all
        #expect(after.allSatisfy { $0.stagedBoot == BootId.current && $0.phase == .staged })

        // Checked in this boot: the next dump trusts them without reading them back.
        try flipByte("\(staging)/\(records[4].files[1].path)", at: 200)
        let third = try await f.pipeline.dump(f.plan, from: f.source)
        #expect(third.collections.map(\.skippedSegments).reduce(0, +) == f.segments)
    }

    /// A journal written before the boot was recorded: its boot is unknown, so kept files are
    /// checked; a changed one is staged again.
    @Test func aJournalWithoutBootIdsIsFromAnUnknownBoot() async throws {
        let f = try await Fixture()
        _ = try await f.pipeline.dump(f.plan, from: f.source)
        let records = try await f.journal().all
        let victim = records[2].files[1]
        let original = try readBytes("\(f.scenario.staging)/\(victim.path)")
        try flipByte("\(f.scenario.staging)/\(victim.path)", at: Int(victim.bytes) - 1)
        try Self.setStagedBoot(nil, in: f.scenario.staging)
        #expect(try await f.journal().all.allSatisfy { $0.stagedBoot == nil })
        let rerun = try await f.pipeline.dump(f.plan, from: f.source)
        #expect(rerun.collections.map(\.segments).reduce(0, +) == 1)
        #expect(try readBytes("\(f.scenario.staging)/\(victim.path)") == original)
        #expect(try await f.journal().all.allSatisfy { $0.stagedBoot == BootId.current })
    }

    /// Another boot through `load`, which cannot stage (it does not read the source): the bad
    /// segment is not imported, the error names its file, the journal sends it back to dump; the
    /// good ones are imported. After the dump the load completes exactly.
    @Test func afterARebootLoadNeverImportsABadFile() async throws {
        var f = try await Fixture()
        f.options.importParallelism = 1
        _ = try await f.pipeline.dump(f.plan, from: f.source)
        // The last segment loaded: every other one is imported before its failure stops the load.
        let last = try #require(f.plan.collections.last?.partitions.last?.segments.last?.segment.id)
        let bad = try #require(try await f.journal().all.first { $0.key.hasSuffix("/\(last)") })
        try flipByte("\(f.scenario.staging)/\(bad.files[0].path)", at: Int(bad.files[0].bytes) - 2)
        try Self.setStagedBoot(Self.otherBoot, in: f.scenario.staging)

        let error = await #expect(throws: MigrationError.self) { try await f.pipeline.load(into: f.target) }
        #expect("\(error!)".contains(bad.files[0].path) && "\(error!)".contains("rerun dump"), "\(error!)")
        let tasks = await f.target.tasks.values
        #expect(!tasks.contains { $0.files.contains { $0.hasSuffix(bad.files[0].path) } }, "the bad file never reached the target")
        #expect(tasks.count == f.segments - 1)
        #expect(try await f.journal().record(bad.key)?.step == .stage)

        _ = try await f.pipeline.dump(f.plan, from: f.source)
        _ = try await f.pipeline.load(into: f.target)
        await f.expectExact()
    }

    /// Another boot through `start`: the bad file is staged again before its import.
    @Test func afterARebootStartRestagesABadFile() async throws {
        let f = try await Fixture()
        _ = try await f.pipeline.dump(f.plan, from: f.source)
        let record = try #require(try await f.journal().all.last)
        let path = "\(f.scenario.staging)/\(record.files[1].path)"
        let original = try readBytes(path)
        try flipByte(path, at: original.count / 2 + 1)
        try Self.setStagedBoot(Self.otherBoot, in: f.scenario.staging)
        _ = try await f.start()
        await f.expectExact()
        #expect(try readBytes(path) == original)
    }

    /// `dumper.worker.fsync: true` still stages correctly (and syncs each file).
    @Test func fsyncPerFileStillStages() async throws {
        let f = try await Fixture()
        let pipeline = MigrationPipeline(staging: LocalStagingArea(root: f.scenario.staging, syncFiles: true), options: f.options)
        _ = try await pipeline.dump(f.plan, from: f.source)
        _ = try await f.start()
        await f.expectExact()
    }

    static func config(_ yaml: String) throws -> MigrationConfig {
        try MigrationConfig.parse("""
        dumper:
          worker:
            workMode: milvus1x
        \(yaml)
        """, file: "/etc/migration.yaml")
    }

    @Test func fsyncAndCleanupKeysAreParsedAndMapped() throws {
        let defaults = try Self.config("target:\n  local:\n    outputDir: /out\n")
        #expect(defaults.dumper.fsync == false && defaults.target.cleanup == false)
        #expect((try defaults.stagingArea() as? LocalStagingArea)?.syncFiles == false)
        #expect(defaults.pipelineOptions(quiet: true).cleanup == false)

        let set = try MigrationConfig.parse("""
        dumper:
          worker:
            workMode: milvus1x
            fsync: true
        target:
          cleanup: true
          local:
            outputDir: /out
        """, file: "/etc/migration.yaml")
        #expect(set.dumper.fsync && set.target.cleanup)
        #expect((try set.stagingArea() as? LocalStagingArea)?.syncFiles == true)
        #expect(set.pipelineOptions(quiet: true).cleanup == true)

        #expect { try Self.config("target:\n  cleanup: sometimes\n") } throws: { error in
            guard case MigrationError.config(_, let key, _) = error else { return false }
            return key == "target.cleanup"
        }
        #expect { try MigrationConfig.parse("dumper:\n  worker:\n    workMode: milvus1x\n    fsync: 2\n", file: "m.yaml") } throws: { error in
            guard case MigrationError.config(_, let key, _) = error else { return false }
            return key == "dumper.worker.fsync"
        }
    }

    // MARK: target.cleanup

    /// Cleanup after a complete start: every staged file is gone, the report gives the space
    /// back, and reruns of start, dump and load neither stage nor import anything again.
    @Test func cleanupRemovesStagedFilesAfterImportAndCounts() async throws {
        var f = try await Fixture()
        f.options.cleanup = true
        let report = try await f.start()
        await f.expectExact()
        let records = try await f.journal().all
        let staged = records.flatMap(\.files)
        #expect(records.count == f.segments && records.allSatisfy { $0.phase == .imported && $0.filesRemoved == true && !$0.hasStagedFiles })
        #expect(report.cleanup == LoadReport.Cleanup(segments: f.segments, files: staged.count, bytes: staged.reduce(0) { $0 + $1.bytes }))
        #expect(report.summary.contains("Cleanup: removed \(staged.count) staged files of \(f.segments) imported segments"), "\(report.summary)")
        #expect(staged.allSatisfy { !FileManager.default.fileExists(atPath: "\(f.scenario.staging)/\($0.path)") })
        let npy = (FileManager.default.subpaths(atPath: "\(f.scenario.staging)/tables") ?? []).filter { $0.hasSuffix(".npy") }
        #expect(npy.isEmpty, "\(npy)")
        if case .object(let members) = report.json(plan: f.plan) { #expect(members.contains { $0.0 == "cleanup" }) }

        let imports = await f.target.count(of: "startImport")
        let again = try await f.start()
        #expect(await f.target.count(of: "startImport") == imports, "a rerun imports nothing")
        #expect(again.cleanup?.files == 0 && again.summary.contains("no staged files left"))
        await f.expectExact("after the rerun")
        let dump = try await f.pipeline.dump(f.plan, from: f.source)
        #expect(dump.collections.map(\.segments).reduce(0, +) == 0, "dump does not stage a cleaned segment again")
        #expect(dump.collections.allSatisfy { $0.bytes == 0 }, "removed files are not reported as staged bytes")
        #expect((FileManager.default.subpaths(atPath: "\(f.scenario.staging)/tables") ?? []).filter { $0.hasSuffix(".npy") }.isEmpty)
        let load = try await f.pipeline.load(into: f.target)
        #expect(load.collections.allSatisfy { $0.alreadyImported == $0.segments })
        #expect(await f.target.count(of: "startImport") == imports)
        await f.expectExact("after load")
    }

    /// A failed import, or a count mismatch, removes nothing; the rerun that completes does.
    @Test func cleanupNeverRunsAfterAFailedImportOrAMismatch() async throws {
        var f = try await Fixture()
        f.options.cleanup = true
        f.options.importParallelism = 1
        f.options.stageParallelism = 1
        // The last segment fails: every other one is imported before its failure stops the run.
        let bad = try #require(f.plan.collections.last?.partitions.last?.segments.last?.segment.id)
        await f.target.set(failImportsContaining: ["/\(bad)/"])
        await #expect(throws: MigrationError.self) { try await f.start() }
        var records = try await f.journal().all
        #expect(records.filter { $0.phase == .imported }.count == f.segments - 1)
        for r in records where !r.files.isEmpty {
            #expect(r.filesRemoved == nil)
            for file in r.files { #expect(FileManager.default.fileExists(atPath: "\(f.scenario.staging)/\(file.path)"), "\(file.path)") }
        }

        // Rows behind the job's back: the counts fail, so still nothing is removed.
        await f.target.set(failImportsContaining: [])
        try await f.target.createPartition("floats", "p_1")
        await f.target.addRows("floats", "p_1", 2)
        let mismatch = await #expect(throws: MigrationError.self) { try await f.start() }
        #expect(mismatch?.targetKind == .mismatch)
        records = try await f.journal().all
        #expect(records.allSatisfy { $0.phase == .imported && $0.filesRemoved == nil })
        for file in records.flatMap(\.files) { #expect(FileManager.default.fileExists(atPath: "\(f.scenario.staging)/\(file.path)")) }
    }

    /// The journal events of cleanup and of the boot check are legal only where they make sense.
    @Test func cleanupAndBootEventsFollowTheStateMachine() throws {
        var record = SegmentRecord(key: "c/p/1")
        #expect(throws: MigrationError.self) { try record.apply(.stagedFilesRemoved) }
        #expect(throws: MigrationError.self) { try record.apply(.stagedFilesChecked(boot: "b")) }
        try record.apply(.staged(files: JournalStateTests.files, rows: 3, deletedRows: 0, fingerprint: "f", boot: "a"))
        #expect(record.stagedBoot == "a" && record.stagedFilesUnverified(currentBoot: "b") && !record.stagedFilesUnverified(currentBoot: "a"))
        try record.apply(.stagedFilesChecked(boot: "b"))
        #expect(record.stagedBoot == "b")
        #expect(throws: MigrationError.self) { try record.apply(.stagedFilesRemoved) }
        try record.apply(.importRequested)
        #expect(throws: MigrationError.self) { try record.apply(.stagedFilesRemoved) }
        try record.apply(.importTaskRecorded(5))
        try record.apply(.importCompleted)
        try record.apply(.stagedFilesRemoved)
        #expect(record.filesRemoved == true && !record.hasStagedFiles && record.step == .done && !record.mayRestage)
        #expect(throws: MigrationError.self) { try record.apply(.staged(files: JournalStateTests.files, rows: 3, deletedRows: 0, fingerprint: "f")) }
        try record.apply(.stagedFilesRemoved)
        #expect(record.filesRemoved == true && record.files == JournalStateTests.files)
    }
}
