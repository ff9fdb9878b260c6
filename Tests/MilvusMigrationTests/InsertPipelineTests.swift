import Foundation
import Testing
import Milvus1xFixture
@testable import MilvusMigration

/// Insert mode's decisions against the in-memory target: exactly once across lost answers,
/// refusals and outages; a rerun after success sends nothing; the row rule of one-row-per-key
/// targets. The same is exercised against Milvus 2.3.5 and Milvus Lite by InsertModeTests.
@Suite struct InsertPipelineTests {
    typealias Fixture = PipelineTests.Fixture

    static func fixture(batchRows: Int = 7, lite: Bool = false) async throws -> Fixture {
        var f = try await Fixture()
        f.options.loadMode = .insert
        // Small batches: several per segment (rows of 8 + 20 bytes for the floats).
        f.options.insertBatchBytes = batchRows * 28
        if lite { await f.target.set(capabilities: TargetCapabilities.of(version: "milvus_lite-3.2.2")) }
        return f
    }

    func insert(_ f: Fixture, plan: MigrationPlan? = nil) async throws -> LoadReport {
        try await f.pipeline.insert(plan ?? f.plan, from: f.source, into: f.target)
    }

    @Test func insertsEveryLiveRowOnceAndARerunSendsNothing() async throws {
        let f = try await Self.fixture()
        let report = try await insert(f)
        await f.expectExact()
        #expect(report.collections.map(\.rowsImported).reduce(0, +) == f.plan.liveRows)
        #expect(await f.target.count(of: "startImport") == 0, "insert mode never imports")
        let sent = await f.target.count(of: "insert")
        #expect(sent > f.segments, "batches of 7 rows: several per segment")
        // Nothing is staged: only meta.json and the journal.
        let staged = try FileManager.default.contentsOfDirectory(atPath: f.scenario.staging).sorted()
        #expect(staged == ["journal.json", "meta.json"])

        let again = try await insert(f)
        #expect(await f.target.count(of: "insert") == sent, "a rerun after success sends nothing")
        #expect(again.collections.map(\.alreadyImported).reduce(0, +) == f.segments)
        await f.expectExact("after the rerun")
    }

    @Test func aLostInsertAnswerIsDecidedFromTheCountNotSentTwice() async throws {
        var f = try await Self.fixture()
        f.options.importParallelism = 3
        await f.target.set(loseNextInsertAnswer: true)
        let error = await #expect(throws: MigrationError.self) { try await insert(f) }
        guard case .unitsFailed(let job, _, let unit, let first)? = error else {
            Issue.record("expected unitsFailed, got \(String(describing: error))")
            return
        }
        #expect(job == "insert" && first.targetKind == .unreachable)
        let open = try #require(try await f.journal().record(unit)?.insertBatch)
        #expect(open.from == 0)
        _ = try await insert(f)
        await f.expectExact("the batch whose answer was lost is in, once")
        #expect(try await f.journal().record(unit)?.phase == .imported)
    }

    @Test func anOutageMidRunThenARerunIsExact() async throws {
        for before in [0, 1, 5, 13] {
            var f = try await Self.fixture(batchRows: 5)
            f.options.importParallelism = 2
            await f.target.set(insertsBeforeOutage: before)
            _ = await #expect(throws: MigrationError.self, "outage after \(before) inserts") { try await insert(f) }
            await f.target.set(insertsBeforeOutage: nil)
            _ = try await insert(f)
            await f.expectExact("outage after \(before) inserts")
        }
    }

    @Test func aRefusedBatchIsRecordedNotAppliedAndSentAgain() async throws {
        let f = try await Self.fixture()
        await f.target.set(refuseNextInsert: true)
        let error = await #expect(throws: MigrationError.self) { try await insert(f) }
        guard case .unitsFailed(_, _, let unit, let first)? = error else {
            Issue.record("expected unitsFailed, got \(String(describing: error))")
            return
        }
        #expect(first.targetKind == .refused && "\(first)".contains("too large"))
        let record = try #require(try await f.journal().record(unit))
        #expect(record.insertBatch == nil && record.phase == .inserting, "a refusal proves nothing was applied")
        _ = try await insert(f)
        await f.expectExact()
    }

    /// Import mode against a target without bulk Import (Milvus Lite) fails before anything is
    /// staged or created, and says to use insert mode.
    @Test func importModeIntoATargetWithoutImportFailsBeforeStaging() async throws {
        let f = try await PipelineTests.Fixture()
        await f.target.set(capabilities: TargetCapabilities.of(version: "milvus_lite-3.2.2"))
        for run in ["start", "load"] {
            let error = await #expect(throws: MigrationError.self, "\(run)") {
                if run == "start" { _ = try await f.start() } else { _ = try await f.pipeline.load(into: f.target) }
            }
            #expect(error?.targetKind == .unsupported && "\(error.map { "\($0)" } ?? "")".contains("set loader.mode: insert"), "\(run)")
        }
        #expect(await f.target.calls == ["capabilities", "capabilities"], "nothing but the capabilities was asked")
        let staged = (try? FileManager.default.contentsOfDirectory(atPath: f.scenario.staging)) ?? []
        #expect(staged.isEmpty, "nothing staged: \(staged)")
    }

    /// A rate limit (busy) proves nothing was applied: the batch is recorded as not applied and
    /// sent again in the same run, after a pause; the run succeeds, exact.
    @Test func busyAnswersAreSentAgainInTheSameRun() async throws {
        var f = try await Self.fixture()
        f.options.importParallelism = 1
        let calm = try await Self.fixture()
        _ = try await insert(calm)
        let batches = await calm.target.count(of: "insert")
        await f.target.set(busyInserts: 2)
        let started = Date()
        _ = try await insert(f)
        await f.expectExact("after two busy answers")
        #expect(await f.target.count(of: "insert") == batches + 2, "each busy answer costs one more call, nothing more")
        #expect(Date().timeIntervalSince(started) >= 1.4, "it paused before asking again (0.5 s, then 1 s)")
    }

    /// A failure on the way back that is not Milvus's own refusal (a proxy's INTERNAL) may follow
    /// an applied batch: it stays in flight, the run fails, and the rerun decides it from the
    /// count instead of sending it blindly (which would duplicate its rows).
    @Test func anUnknownOutcomeIsDecidedFromTheCountNotResent() async throws {
        var f = try await Self.fixture()
        f.options.importParallelism = 1
        await f.target.set(unknownOutcomeNextInsert: true)
        let error = await #expect(throws: MigrationError.self) { try await insert(f) }
        guard case .unitsFailed(_, _, let unit, let first)? = error else {
            Issue.record("expected unitsFailed, got \(String(describing: error))")
            return
        }
        #expect(first.targetKind == .outcomeUnknown && !first.provesNothingApplied)
        #expect(try await f.journal().record(unit)?.insertBatch != nil, "the batch stays in flight")
        _ = try await insert(f)
        await f.expectExact("the batch applied before the unknown failure is in, once")
    }

    @Test func aSourceChangedMidInsertIsAnError() async throws {
        var f = try await Self.fixture()
        f.options.importParallelism = 1
        await f.target.set(insertsBeforeOutage: 1)
        _ = await #expect(throws: MigrationError.self) { try await insert(f) }
        let first = f.plan.collections[0].partitions[0].segments[0]
        let key = "\(f.plan.collections[0].source.name)/\(f.plan.collections[0].partitions[0].source.name)/\(first.segment.id)"
        #expect(try await f.journal().record(key)?.phase == .inserting, "partly sent")
        await f.target.set(insertsBeforeOutage: nil)
        // The first segment (partly sent) now has one more deleted row than when it was planned.
        var plan = f.plan
        let layout = plan.collections[0].partitions[0].segments[0]
        var deleted = layout.deleted
        deleted.add(Int32(layout.totalRows - 2))
        plan.collections[0].partitions[0].segments[0].deleted = deleted
        let error = await #expect(throws: MigrationError.self) { try await insert(f, plan: plan) }
        #expect("\(error!)".contains("changed since an earlier run began inserting"), "\(error!)")
    }

    @Test func oneRowPerKeyTargetsRefuseBinaryCollectionsBeforeAnyRow() async throws {
        let f = try await Self.fixture(lite: true)
        let error = await #expect(throws: MigrationError.self) { try await insert(f) }
        #expect(error?.targetKind == .unsupported)
        #expect("\(error!)".contains("collection 'bits': has binary vectors, which the target (milvus_lite-3.2.2"))
        #expect(await f.target.count(of: "insert") == 0)
        #expect(await f.target.count(of: "createCollection") == 0)
    }

    @Test func oneRowPerKeyTargetsAreCountedByDistinctIdsAndLostBatchesResent() async throws {
        var f = try await Self.fixture(lite: true)
        let floats = try #require(f.plan.collections.first { $0.source.name == "floats" })
        var plan = f.plan
        plan.collections = [floats]
        await f.target.set(loseNextInsertAnswer: true)
        f.options.importParallelism = 1
        _ = await #expect(throws: MigrationError.self) { try await insert(f, plan: plan) }
        let report = try await insert(f, plan: plan)
        // The fixture's ids are distinct: every live row is there once.
        #expect(await f.target.rows("floats") == floats.liveRows)
        #expect(report.collections[0].expectedRows == floats.liveRows && report.collections[0].actualRows == floats.liveRows)
    }

    @Test func distinctIdsAndRepeatsAreCountedFromTheSource() async throws {
        let dir = TempDir("distinct")
        let db = try Milvus1xDatabase(root: dir.sub("db"))
        db.addCollection("dups", dimension: 2, metric: 1)
        // ids 1, 1, 2 in one segment, 1 and 3 in another; row 2 (id 2) deleted in the first.
        try db.addSegment(table: "dups", ids: [1, 1, 2], floatRows: [[0, 0], [1, 1], [2, 2]], deleteBatches: [[2]])
        try db.addSegment(table: "dups", ids: [1, 3], floatRows: [[3, 3], [4, 4]])
        try db.finish()
        let plan = try await planOf(db)
        let scan = try await DistinctIds.scan(plan.collections[0].segments, source: LocalSourceStorage(root: db.tablesPath), bufferBytes: 8)
        #expect(scan.count == 2 && scan.repeated == [1])
    }
}
