import Foundation
import Testing
@testable import MilvusMigration

/// The per-segment state machine of the journal, in process (no services).
@Suite struct JournalStateTests {
    static let files = [StagedFileRecord(path: "tables/c/1/id.npy", bytes: 136, checksum: "00000000000000aa"),
                        StagedFileRecord(path: "tables/c/1/data.npy", bytes: 228, checksum: "00000000000000bb")]
    static let staged = SegmentEvent.staged(files: files, rows: 1, deletedRows: 0, fingerprint: "f")

    /// One segment, the jobs' decisions (`SegmentRecord.step`, `mayRestage`) and a model of
    /// Milvus that counts how many copies of the segment's rows it holds.
    struct World {
        enum TaskState { case running, completed, failed, stuck }
        /// What the journal file holds (what a restarted process reads back).
        var persisted: SegmentRecord?
        /// What the running process holds.
        var memory: SegmentRecord?
        var tasks: [Int64: TaskState] = [:]
        /// Tasks the server still lists (a restart may forget them).
        var listed: Set<Int64> = []
        var nextTask: Int64 = 100
        var filesIntact = false
        /// A task the server created whose id the process has not recorded yet.
        var unrecordedAnswer: Int64?
        var copies = 0
        /// Whether this process settled the open imports (every load and start does, first).
        var reconciled = false
        var trace: [Step] = []

        var record: SegmentRecord { memory ?? persisted ?? SegmentRecord(key: "c/_default/1", now: Date(timeIntervalSince1970: 0)) }

        mutating func apply(_ event: SegmentEvent) {
            var r = record
            let before = r
            do {
                try r.apply(event, at: Date(timeIntervalSince1970: 0))
            } catch {
                JournalStateTests.report("illegal transition taken by a job: \(error) after \(trace)")
                return
            }
            // Never backwards from importing/imported.
            if before.mayHaveImportedRows && !(r.mayHaveImportedRows || (r.phase == .failed && !r.files.isEmpty && event.isImportFailure)) {
                JournalStateTests.report("\(before.phase) -> \(r.phase) on \(event) after \(trace)")
            }
            if before.phase == .imported && r.phase != .imported {
                JournalStateTests.report("left imported after \(trace)")
            }
            // Failures keep the import task.
            if event.isFailure && r.importTask != before.importTask {
                JournalStateTests.report("\(event) dropped import task \(before.importTask ?? -1) after \(trace)")
            }
            memory = r
            persisted = r
        }

        /// dump (or start's staging step) on this segment; `succeeds` is the conversion's outcome.
        mutating func dump(succeeds: Bool) {
            if memory == nil { memory = record }
            let r = record
            if !r.mayRestage { return }
            if r.step == .importStaged && filesIntact { return }
            if succeeds {
                filesIntact = true
                apply(JournalStateTests.staged)
            } else {
                filesIntact = false
                apply(.stageFailed(reason: "disk full", fingerprint: "f"))
            }
        }

        /// What `reconcile` decides from the counts when a task's outcome is unknown.
        mutating func decideFromCounts() {
            guard let mask = ReconcileStep.persistedSubset(rows: [record.rows], extra: Int64(copies)) else {
                JournalStateTests.report("undecidable with \(copies) copies after \(trace)")
                return
            }
            apply(mask == 1 ? .importCompleted : .importFailed(reason: "no row persisted"))
        }

        /// load (or start's import step): settle what is open, then import a staged segment.
        mutating func load() {
            if memory == nil { memory = record }
            if !reconciled {
                reconciled = true
                reconcile()
            }
            switch record.step {
            case .done, .stage, .findTask, .poll, .insert, .resolveInsert:
                return
            case .importStaged:
                guard filesIntact else {
                    apply(.stageFailed(reason: "checksum mismatch", fingerprint: "f"))
                    return
                }
                // The invariant: no second import while rows of an earlier one may be in Milvus.
                let live = tasks.values.filter { $0 == .running || $0 == .completed }.count
                if copies != 0 || live != 0 { JournalStateTests.report("second import of a segment whose rows may be in Milvus after \(trace)") }
                apply(.importRequested)
                let id = nextTask
                nextTask += 1
                tasks[id] = .running
                listed.insert(id)
                unrecordedAnswer = id
            }
        }

        /// What a new process does first for a segment left `importing`.
        mutating func reconcile() {
            let r = record
            guard r.phase == .importing else { return }
            let id: Int64
            if let known = r.importTask {
                id = known
            } else if let found = listed.max() {
                apply(.importTaskRecorded(found))
                id = found
            } else {
                decideFromCounts()
                return
            }
            guard listed.contains(id) else { return decideFromCounts() }
            switch tasks[id]! {
            case .completed: apply(.importCompleted)
            case .failed: apply(.importFailed(reason: "failed"))
            case .stuck: decideFromCounts()
            case .running: break
            }
        }

        mutating func recordAnswer() {
            guard let id = unrecordedAnswer, memory != nil else { return }
            unrecordedAnswer = nil
            apply(.importTaskRecorded(id))
        }

        mutating func serverFinishes(_ ok: Bool) {
            guard let id = tasks.filter({ $0.value == .running }).keys.max() else { return }
            tasks[id] = ok ? .completed : .failed
            if ok { copies += 1 }
            // The process polling that task records the outcome.
            if memory != nil, record.phase == .importing, record.importTask == id {
                apply(ok ? .importCompleted : .importFailed(reason: "failed"))
            }
        }

        mutating func kill() {
            memory = nil
            reconciled = false
            unrecordedAnswer = nil
            if let p = persisted {
                let data = try! JSONEncoder().encode(p)
                persisted = try! JSONDecoder().decode(SegmentRecord.self, from: data)
                if persisted != p { JournalStateTests.report("journal round trip changed the record after \(trace)") }
            }
        }

        /// Milvus restarts: running tasks never finish, and every task may be forgotten.
        mutating func serverRestarts(forget: Bool) {
            for (id, state) in tasks where state == .running { tasks[id] = .stuck }
            if forget { listed = [] }
            kill()
        }
    }

    enum Step: CaseIterable { case stageOK, stageFailed, importStarted, taskRecorded, importCompleted, importFailed, kill, milvusRestart, milvusRestartForgetting }

    static func run(_ steps: [Step]) -> World {
        var w = World()
        for step in steps {
            w.trace.append(step)
            switch step {
            case .stageOK: w.dump(succeeds: true)
            case .stageFailed: w.dump(succeeds: false)
            case .importStarted: w.load()
            case .taskRecorded: w.recordAnswer()
            case .importCompleted: w.serverFinishes(true)
            case .importFailed: w.serverFinishes(false)
            case .kill: w.kill()
            case .milvusRestart: w.serverRestarts(forget: false)
            case .milvusRestartForgetting: w.serverRestarts(forget: true)
            }
            if w.copies > 1 { JournalStateTests.report("rows imported twice after \(w.trace)") }
        }
        return w
    }

    /// Every sequence of up to 6 dump/load/start outcomes, kills and Milvus restarts; each ends
    /// with a rerun against a healthy server, which must reach exactly one copy of the rows.
    @Test func everySequenceUpToSixKeepsTheInvariants() async {
        // About 600,000 sequences of CPU-bound work: on a thread of its own, so that it does not
        // hold one of the (two, on CI) threads of the cooperative pool the other suites share.
        let (count, failures) = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: JournalStateTests.enumerateSequences(upTo: 6)) }.start()
        }
        for failure in failures.prefix(20) { Issue.record(Comment(rawValue: failure)) }
        #expect(failures.isEmpty, "\(failures.count) sequence(s) broke an invariant")
        #expect(count == (1...6).reduce(0) { $0 + Int(pow(Double(Step.allCases.count), Double($1))) })
    }

    /// Runs every sequence of `Step`s up to `length`, each followed by a rerun that must leave
    /// exactly one copy of the rows; returns how many ran and what broke.
    static func enumerateSequences(upTo length: Int) -> (Int, [String]) {
        let collector = FailureCollector()
        Thread.current.threadDictionary[collectorKey] = collector
        defer { Thread.current.threadDictionary[collectorKey] = nil }
        var count = 0
        var sequences: [[Step]] = [[]]
        for _ in 1...length {
            sequences = sequences.flatMap { s in Step.allCases.map { s + [$0] } }
            for s in sequences {
                var w = JournalStateTests.run(s)
                count += 1
                // The rerun: a new process, dump then load until done.
                w.kill()
                for _ in 0..<4 {
                    w.dump(succeeds: true)
                    w.load()
                    w.recordAnswer()
                    w.serverFinishes(true)
                    if w.record.step == .done { break }
                    w.kill()
                }
                if !(w.record.step == .done && w.copies == 1) { report("after \(s) and a rerun: \(w.record.phase), \(w.copies) copies") }
            }
        }
        return (count, collector.failures)
    }

    /// Where `report` puts failures on the enumerating thread (it has no test context).
    final class FailureCollector: NSObject { var failures: [String] = [] }
    static let collectorKey = "milvus-migration.journal-state-failures"

    /// An invariant broken: an issue of the running test, or, on the enumerating thread, a line
    /// that the test records as an issue once the thread is done.
    static func report(_ message: String) {
        if let collector = Thread.current.threadDictionary[collectorKey] as? FailureCollector {
            collector.failures.append(message)
        } else {
            Issue.record(Comment(rawValue: message))
        }
    }

    /// The transitions a job must never take throw a typed error and change nothing.
    @Test func illegalTransitionsThrowAndChangeNothing() throws {
        var r = SegmentRecord(key: "c/p/7")
        try r.apply(JournalStateTests.staged)
        try r.apply(.importRequested)
        try r.apply(.importTaskRecorded(42))
        let importing = r
        // Re-staging, failing a re-dump, or a second request while the task may persist rows.
        for event in [JournalStateTests.staged, .stageFailed(reason: "x", fingerprint: "f"), .importRequested, .importTaskRecorded(43)] {
            var copy = importing
            #expect(throws: MigrationError.journalTransition(segment: "c/p/7", phase: "importing (task 42)", event: event.description)) {
                try copy.apply(event)
            }
            #expect(copy == importing)
        }
        try r.apply(.importCompleted)
        for event in [JournalStateTests.staged, .stageFailed(reason: "x", fingerprint: "f"), .importRequested, .importFailed(reason: "x"), .importTaskRecorded(1)] {
            var copy = r
            #expect(throws: MigrationError.self) { try copy.apply(event) }
            #expect(copy.phase == .imported && copy.importTask == 42)
        }
        // A failed dump leaves nothing to import.
        var fresh = SegmentRecord(key: "c/p/8")
        try fresh.apply(.stageFailed(reason: "disk full", fingerprint: "f"))
        #expect(throws: MigrationError.self) { try fresh.apply(.importRequested) }
        #expect(fresh.step == .stage)
    }

    /// The defect: a failed re-dump of an imported segment used to make it `failed` without its
    /// task, and the next successful dump made it `staged`, so `load` imported it again.
    @Test func failedRedumpOfImportedSegmentKeepsItImported() async throws {
        let dir = TempDir("journal")
        let staging = LocalStagingArea(root: dir.path)
        let journal = try await JobJournal.open(staging)
        try await journal.apply(JournalStateTests.staged, to: "c/p/1")
        try await journal.apply(.importRequested, to: "c/p/1")
        try await journal.apply(.importTaskRecorded(7), to: "c/p/1")
        try await journal.apply(.importCompleted, to: "c/p/1")
        await #expect(throws: MigrationError.self) { try await journal.apply(.stageFailed(reason: "x", fingerprint: "f"), to: "c/p/1") }
        let reread = try await JobJournal.open(staging)
        let record = try #require(await reread.record("c/p/1"))
        #expect(record.phase == .imported && record.importTask == 7 && record.step == .done && !record.mayRestage)
    }

    /// A journal written by the previous version (version 1, same record keys) still opens, and
    /// its records continue from their phase.
    @Test func versionOneJournalStillOpens() async throws {
        let dir = TempDir("journal-v1")
        try """
        {
          "collections" : [ { "createdByJob" : true, "name" : "floats_x", "rowsBefore" : 0, "updated" : "2026-01-01T00:00:00Z" } ],
          "segments" : [
            { "deletedRows" : 3, "files" : [ { "bytes" : 2528, "checksum" : "header:0123456789abcdef", "path" : "tables/floats/1/id.npy" } ],
              "importTask" : 445, "key" : "floats/_default/1", "phase" : "importing", "rows" : 300, "sourceFingerprint" : "1/1 rows=300", "updated" : "2026-01-01T00:00:00Z" },
            { "deletedRows" : 0, "files" : [ ], "key" : "floats/_default/2", "phase" : "failed", "failure" : "disk full",
              "rows" : 0, "sourceFingerprint" : "1/2", "updated" : "2026-01-01T00:00:00Z" },
            { "deletedRows" : 0, "files" : [ { "bytes" : 10, "checksum" : "00", "path" : "tables/floats/3/id.npy" } ], "importTask" : 9,
              "key" : "floats/_default/3", "phase" : "failed", "failure" : "import failed", "rows" : 5, "sourceFingerprint" : "1/3", "updated" : "2026-01-01T00:00:00Z" }
          ],
          "version" : 1
        }
        """.write(toFile: dir.sub(JobJournal.fileName), atomically: true, encoding: .utf8)
        let journal = try await JobJournal.open(LocalStagingArea(root: dir.path))
        #expect(await journal.record("floats/_default/1")?.step == .poll(445))
        #expect(await journal.record("floats/_default/2")?.step == .stage)
        #expect(await journal.record("floats/_default/3")?.step == .importStaged)
        #expect(await journal.collection("floats_x")?.createdByJob == true)
        try await journal.apply(.importCompleted, to: "floats/_default/1")
        let text = try String(contentsOfFile: dir.sub(JobJournal.fileName), encoding: .utf8)
        #expect(text.contains("\"version\" : 1") && text.contains("\"phase\" : \"imported\""))
    }

    @Test func countDecisionNeedsExactlyOneExplanation() {
        #expect(ReconcileStep.persistedSubset(rows: [300, 500], extra: 0) == 0)
        #expect(ReconcileStep.persistedSubset(rows: [300, 500], extra: 500) == 2)
        #expect(ReconcileStep.persistedSubset(rows: [300, 500], extra: 800) == 3)
        #expect(ReconcileStep.persistedSubset(rows: [300, 300], extra: 300) == nil)
        #expect(ReconcileStep.persistedSubset(rows: [300, 500], extra: 250) == nil)
        #expect(ReconcileStep.persistedSubset(rows: [300], extra: -1) == nil)
    }
}

extension SegmentEvent {
    var isImportFailure: Bool {
        if case .importFailed = self { return true }
        return false
    }

    var isFailure: Bool {
        switch self {
        case .importFailed, .stageFailed: return true
        default: return false
        }
    }
}
