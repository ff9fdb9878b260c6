import Foundation
import Testing
@testable import MilvusMigration

/// The pipeline's decisions (onExisting, resume, settling open imports, import failures, the
/// count check) against the in-memory target: every test runs in milliseconds. The same
/// behaviour is exercised end to end against a real Milvus by LoadTests, ResumeTests and
/// MilvusFaultTests.
@Suite struct PipelineTests {
    /// The dump scenario (2 collections, a tagged partition, float and binary vectors, deletions)
    /// planned, with a pipeline staging into its own folder.
    struct Fixture {
        let scenario: DumpTests.Scenario
        let plan: MigrationPlan
        let source: LocalSourceStorage
        let target = InMemoryTarget()
        var options = PipelineOptions()

        init(rows: Int = 30, segmentsPerTable: Int = 2) async throws {
            scenario = try DumpTests.Scenario(rows: rows, segmentsPerTable: segmentsPerTable)
            plan = try await planOf(scenario.db)
            source = LocalSourceStorage(root: scenario.db.tablesPath)
            options.quiet = true
            options.stallTimeout = 0.3
        }

        var pipeline: MigrationPipeline { MigrationPipeline(staging: LocalStagingArea(root: scenario.staging), options: options) }
        var liveRows: [String: Int64] { Dictionary(uniqueKeysWithValues: plan.collections.map { ($0.targetName, $0.liveRows) }) }
        var segments: Int { plan.segmentCount }

        func start() async throws -> LoadReport { try await pipeline.start(plan, from: source, into: target) }

        /// Milvus's rows equal the source's live rows, per collection and partition.
        func expectExact(_ comment: Comment? = nil) async {
            for c in plan.collections {
                #expect(await target.rows(c.targetName) == c.liveRows, comment)
                for p in c.partitions {
                    #expect(await target.rows(c.targetName, p.source.name) == p.liveRows, "\(c.targetName)/\(p.source.name) \(comment?.rawValue ?? "")")
                }
            }
        }

        func journal() async throws -> JobJournal { try await JobJournal.open(LocalStagingArea(root: scenario.staging)) }
    }

    @Test func startMigratesEverySegmentOnceAndARerunSendsNothing() async throws {
        let f = try await Fixture()
        let first = try await f.start()
        await f.expectExact()
        #expect(await f.target.count(of: "startImport") == f.segments)
        #expect(first.collections.map(\.segments).reduce(0, +) == f.segments)
        #expect(first.collections.allSatisfy { $0.alreadyImported == 0 && $0.actualRows == $0.expectedRows })
        #expect(first.collections.map(\.rowsImported).reduce(0, +) == f.plan.liveRows)
        #expect(await f.target.flushes == 1)

        let again = try await f.start()
        #expect(await f.target.count(of: "startImport") == f.segments, "a rerun after success imports nothing")
        #expect(again.collections.map(\.alreadyImported).reduce(0, +) == f.segments)
        #expect(again.collections.map(\.rowsImported).reduce(0, +) == 0)
        await f.expectExact("after the rerun")
    }

    @Test func dumpThenLoadEqualsStart() async throws {
        let f = try await Fixture()
        let dumped = try await f.pipeline.dump(f.plan, from: f.source)
        #expect(dumped.collections.map(\.rows).reduce(0, +) == f.plan.liveRows)
        #expect(await f.target.calls.isEmpty, "dump never talks to the target")
        let loaded = try await f.pipeline.load(into: f.target)
        await f.expectExact()
        #expect(loaded.collections.map(\.segments).reduce(0, +) == f.segments)
        // Selecting and renaming on load.
        let g = try await Fixture()
        _ = try await g.pipeline.dump(g.plan, from: g.source)
        let renamed = try await g.pipeline.load(into: g.target, collections: ["bits"], renames: ["bits": "bits2x"])
        #expect(renamed.collections.map(\.target) == ["bits2x"])
        #expect(await g.target.rows("bits2x") == g.plan.collections.first { $0.source.name == "bits" }!.liveRows)
        #expect(await g.target.rows("floats") == nil)
    }

    @Test func loadWithoutADumpIsAUsageError() async throws {
        let f = try await Fixture()
        await #expect(throws: MigrationError.usage("no dump found in \(f.scenario.staging) (meta.json is missing); run dump first")) {
            try await f.pipeline.load(into: f.target)
        }
    }

    @Test func onExistingFailSkipAppendDrop() async throws {
        let schema = TargetSchema(idField: "id", vectorField: "data", vectorKind: .float, dimension: 5)
        // fail (the default): names the collection, touches nothing.
        var f = try await Fixture()
        await f.target.addExisting("floats", schema: schema, rows: 7)
        let failure = await #expect(throws: MigrationError.self) { try await f.start() }
        #expect(failure?.targetKind == .collectionExists)
        #expect("\(failure!)".contains("collection 'floats': already exists in Milvus at memory:19530; set target.milvus2x.onExisting"))
        #expect(await f.target.count(of: "startImport") == 0)

        // skip: the other collection migrates.
        f = try await Fixture()
        f.options.onExisting = .skip
        await f.target.addExisting("floats", schema: schema, rows: 7)
        let skipped = try await f.start()
        #expect(skipped.collections.first { $0.source == "floats" }!.skipped)
        #expect(await f.target.rows("floats") == 7)
        #expect(await f.target.rows("bits") == f.liveRows["bits"])

        // append: the rows before are allowed for in the count.
        f = try await Fixture()
        f.options.onExisting = .append
        await f.target.addExisting("floats", schema: schema, rows: 7)
        let appended = try await f.start()
        let floats = appended.collections.first { $0.source == "floats" }!
        #expect(floats.expectedRows == 7 + f.liveRows["floats"]! && floats.actualRows == floats.expectedRows)
        #expect(try await f.journal().collection("floats")?.rowsBefore == 7)

        // append to a collection of another shape: a schema mismatch, nothing imported.
        f = try await Fixture()
        f.options.onExisting = .append
        await f.target.addExisting("floats", schema: TargetSchema(idField: "id", vectorField: "data", vectorKind: .float, dimension: 6), rows: 7)
        let mismatch = await #expect(throws: MigrationError.self) { try await f.start() }
        #expect(mismatch?.targetKind == .schemaMismatch)
        #expect(await f.target.count(of: "startImport") == 0)

        // drop: recreated with exactly the source's rows.
        f = try await Fixture()
        f.options.onExisting = .drop
        await f.target.addExisting("floats", schema: schema, rows: 7)
        _ = try await f.start()
        #expect(await f.target.count(of: "dropCollection") == 1)
        await f.expectExact()
    }

    @Test func aFailedImportIsRecordedAndOnlyItIsImportedAgain() async throws {
        var f = try await Fixture()
        f.options.importParallelism = 1
        f.options.stageParallelism = 1
        let bad = f.plan.collections[0].partitions[0].segments[0].segment.id
        await f.target.set(failImportsContaining: ["/\(bad)/"])
        let error = await #expect(throws: MigrationError.self) { try await f.start() }
        guard case .unitsFailed(let job, let failed, let unit, let first)? = error else {
            Issue.record("expected unitsFailed, got \(String(describing: error))")
            return
        }
        #expect(job == "start" && failed == 1 && unit.hasSuffix("/\(bad)"))
        #expect(first.targetKind == .importFailed)
        #expect("\(first)".contains("bad file"))
        let record = try #require(try await f.journal().record(unit))
        #expect(record.phase == .failed && record.importTask != nil)
        let importsBefore = await f.target.count(of: "startImport")

        await f.target.set(failImportsContaining: [])
        _ = try await f.start()
        await f.expectExact()
        // The rerun imports the failed segment once more and whatever the first run had not
        // reached; every segment ends with exactly one completed task.
        let tasks = await f.target.tasks.values
        #expect(tasks.filter { $0.state == .completed }.count == f.segments)
        #expect(tasks.filter { $0.state == .completed && $0.files.contains { $0.contains("/\(bad)/") } }.count == 1)
        #expect(await f.target.count(of: "startImport") - importsBefore == f.segments - (importsBefore - 1))
    }

    /// Milvus 2.4+ may list tasks without their files, so a lost answer's task cannot be found by
    /// its files, and while it still runs its rows are not in the counts. The rerun waits for the
    /// unfinished tasks that list no files before it decides from the counts: deciding at once
    /// would import the segment a second time.
    @Test func aLostImportAnswerOnAServerListingNoFilesWaitsForRunningTasksBeforeCounting() async throws {
        var f = try await Fixture()
        f.options.importParallelism = 1
        await f.target.set(loseNextImportAnswer: true)
        await f.target.set(lostAnswerTaskHangs: true)
        let error = await #expect(throws: MigrationError.self) { try await f.start() }
        guard case .unitsFailed(_, _, let unit, _)? = error else {
            Issue.record("expected unitsFailed, got \(String(describing: error))")
            return
        }
        #expect(try await f.journal().record(unit)?.importTask == nil, "the answer was lost")

        await f.target.set(listsNoFiles: true)
        // The lost answer's task is still running: it ends once watched for a while.
        await f.target.set(finishHungTasksAfterPolls: 3)
        f.options.stallTimeout = 30
        _ = try await f.start()
        await f.expectExact("the lost-answer task ended and was counted, not repeated")
        #expect(await f.target.count(of: "startImport") == f.segments, "no second import of the lost-answer segment")
        #expect(try await f.journal().record(unit)?.phase == .imported)
    }

    /// An import failing because the server cannot see the staged files (`ImportFailureKind
    /// .filesMissing`, classified by the target) gets the advice for where the files must be;
    /// other failures keep the server's reason alone.
    @Test func filesTheServerCannotSeeGetTheStagingAdviceByKind() async throws {
        for local in [true, false] {
            var f = try await Fixture()
            f.options.importParallelism = 1
            f.options.stageParallelism = 1
            f.options.stagedLocally = local
            await f.target.set(stagedFilesInvisible: true)
            let error = await #expect(throws: MigrationError.self) { try await f.start() }
            guard case .unitsFailed(_, _, let unit, let first)? = error, case .target(let failure) = first else {
                Issue.record("expected unitsFailed of a target failure, got \(String(describing: error))")
                continue
            }
            #expect(failure.kind == .importFailed)
            #expect(failure.serverReason?.contains("no such file or directory") == true)
            let advice = local ? "Milvus must read the staged files from the same disk" : "target.remote.bucket must be Milvus's minio.bucketName"
            #expect(failure.message.contains(advice), "\(failure.message)")
            let record = try #require(try await f.journal().record(unit))
            #expect(record.phase == .failed && record.failure?.contains(advice) == true)
        }

        // A failure of another kind: the server's reason without the advice.
        var f = try await Fixture()
        f.options.importParallelism = 1
        await f.target.set(failImportsContaining: ["/"])
        let error = await #expect(throws: MigrationError.self) { try await f.start() }
        guard case .unitsFailed(_, _, _, let first)? = error else {
            Issue.record("expected unitsFailed, got \(String(describing: error))")
            return
        }
        #expect("\(first)".contains("bad file") && !"\(first)".contains("Milvus must read"))
    }

    /// Only `MilvusClient` reads the server's failure texts: the ones of files it cannot read
    /// become `.filesMissing`, any other text no kind.
    @Test func theClientClassifiesImportFailureReasons() {
        #expect(MilvusClient.importFailure("open /x/1.npy: no such file or directory") == .filesMissing)
        #expect(MilvusClient.importFailure("the object a/1.npy does not exist") == .filesMissing)
        #expect(MilvusClient.importFailure("failed to get file size of a/1.npy") == .filesMissing)
        #expect(MilvusClient.importFailure("row count of field 'id' differs") == nil)
        #expect(MilvusClient.importFailure("") == nil)
    }

    @Test func aLostImportAnswerIsSettledFromTheTaskListNotImportedAgain() async throws {
        var f = try await Fixture()
        f.options.importParallelism = 1
        await f.target.set(loseNextImportAnswer: true)
        let error = await #expect(throws: MigrationError.self) { try await f.start() }
        guard case .unitsFailed(_, _, let unit, let first)? = error else {
            Issue.record("expected unitsFailed, got \(String(describing: error))")
            return
        }
        #expect(first.targetKind == .unreachable)
        #expect(try await f.journal().record(unit)?.phase == .importing)
        #expect(try await f.journal().record(unit)?.importTask == nil)

        _ = try await f.start()
        await f.expectExact("the lost-answer task was found and recorded, not repeated")
        #expect(await f.target.count(of: "startImport") == f.segments)
        #expect(await f.target.count(of: "listImportTasks") >= 1)
        #expect(try await f.journal().record(unit)?.phase == .imported)
    }

    @Test func tasksForgottenByARestartAreDecidedFromTheCounts() async throws {
        var f = try await Fixture()
        f.options.importParallelism = 1
        f.options.importTimeout = 0.5
        // Every task hangs: the first import times out with its task recorded.
        await f.target.set(tasksHang: true)
        let error = await #expect(throws: MigrationError.self) { try await f.start() }
        guard case .unitsFailed(_, _, let unit, let first)? = error else {
            Issue.record("expected unitsFailed, got \(String(describing: error))")
            return
        }
        #expect(first.targetKind == .timedOut)
        #expect(try await f.journal().record(unit)?.phase == .importing)
        // The server persisted the rows, then restarted and forgot the task.
        await f.target.completeHangingTasks()
        await f.target.restartForgettingTasks()
        await f.target.set(tasksHang: false)
        f.options.importTimeout = 60
        _ = try await f.start()
        await f.expectExact("decided imported from the partition count, not imported twice")
        #expect(try await f.journal().record(unit)?.phase == .imported)
    }

    @Test func aStalledTaskWithNoRowsIsImportedAgain() async throws {
        var f = try await Fixture()
        f.options.importParallelism = 1
        f.options.importTimeout = 0.5
        await f.target.set(tasksHang: true)
        _ = await #expect(throws: MigrationError.self) { try await f.start() }
        // The server restarted without persisting anything and its tasks stay Started for good.
        await f.target.set(tasksHang: false)
        f.options.importTimeout = 60
        _ = try await f.start()
        await f.expectExact("no row was persisted, so the segment was imported again, once")
    }

    @Test func aCollectionDroppedAfterImportsIsAnErrorNotASilentReimport() async throws {
        let f = try await Fixture()
        _ = try await f.start()
        try await f.target.dropCollection("bits")
        let error = await #expect(throws: MigrationError.self) { try await f.start() }
        #expect(error?.targetKind == .collectionMissing)
        #expect("\(error!)".contains("collection 'bits': this job imported into it before, but it no longer exists"))
    }

    @Test func aCountMismatchNamesCollectionAndPartition() async throws {
        let f = try await Fixture()
        _ = try await f.start()
        // Someone adds rows behind the job's back; the rerun's count check catches it.
        try await f.target.createPartition("floats", "p_1")
        await f.target.addRows("floats", "p_1", 3)
        let error = await #expect(throws: MigrationError.self) { try await f.start() }
        #expect(error?.targetKind == .mismatch)
        #expect("\(error!)".contains("collection 'floats': Milvus has \(f.liveRows["floats"]! + 3) rows"))
        #expect("\(error!)".contains("collection 'floats' partition 'p_1'"))
    }

    @Test func indexAndLoadRunAfterTheCounts() async throws {
        var f = try await Fixture()
        f.options.loadCollection = true
        let report = try await f.start()
        #expect(await f.target.count(of: "createIndex") == 2)
        #expect(await f.target.count(of: "loadCollection") == 2)
        #expect(report.collections.allSatisfy { $0.notes.contains("loaded") })
        let calls = await f.target.calls
        #expect(calls.lastIndex(of: "rowCount")! < calls.firstIndex(of: "createIndex")!)
    }

    @Test func aBusyServerIsAskedAgainNotFailed() async throws {
        var f = try await Fixture()
        f.options.importParallelism = 1
        await f.target.set(busyImports: 1)
        _ = try await f.start()
        await f.expectExact()
        #expect(await f.target.count(of: "startImport") == f.segments + 1, "the busy answer created nothing and was asked again")
    }
}
