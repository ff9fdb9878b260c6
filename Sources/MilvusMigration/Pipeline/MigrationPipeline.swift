import Foundation
import Logging

/// The migration as one pipeline of named steps over one work unit, the `SegmentUnit`:
///
///     stage (StageStep) → import (ImportStep) → count (CountStep)
///
/// around per-collection steps (`CollectionStep`: create or check before, index and load after)
/// and `ReconcileStep`, which settles imports an earlier run left open before anything new is
/// imported. The commands are compositions of those steps:
/// - `dump` stages every live segment of a plan;
/// - `load` imports every segment of a staged dump and checks the counts;
/// - `start` does both, overlapped: a segment is imported as soon as it is staged.
/// - `insert` (`loader.mode: insert`, for `load` and `start`) streams each segment's live rows
///   to the target with `Insert` (`InsertStep`) instead of staging and importing them.
/// All of them share the job journal in the staging area, so any of them after a failed or
/// interrupted other one resumes rather than redoes. `RunTally` aggregates the results; the
/// reports are built in Report/.
public struct MigrationPipeline: Sendable {
    public var staging: any StagingArea
    public var options: PipelineOptions
    let logger = Logger(label: "milvus-migration.pipeline")

    public init(staging: any StagingArea, options: PipelineOptions) {
        self.staging = staging
        self.options = options
    }

    // MARK: dump = stage

    /// Stages every live segment of `plan`, `stageParallelism` at a time.
    public func dump(_ plan: MigrationPlan, from source: any SourceStorage) async throws -> DumpReport {
        try plan.requireExecutable()
        let (removed, journal, units) = try await begin(plan, groupBytes: options.groupBytes)
        await journal.trackPhases(of: units.map(\.metricsKey))
        await announce("dump", units, journal: journal)
        let progress = ProgressReporter(title: "dump", totalUnits: units.count, totalBytes: units.reduce(0) { $0 + $1.payloadBytes }, quiet: options.quiet,
                                        observer: options.observer)
        progress.start()
        defer { progress.stop() }
        var tally = RunTally(plan.collections.map { ($0.source.name, $0.targetName) })
        let stage = StageStep(source: source, staging: staging, journal: journal, bufferBytes: options.bufferBytes, progress: progress)
        let failures = try await BoundedWindow.run(units, width: options.stageParallelism) { unit in
            let started = Date()
            let (record, worked) = try await stage.run(unit)
            return (record, worked, started)
        } onResult: { unit, outcome in
            guard case .success(let (record, worked, started)) = outcome else { return }
            progress.finishUnit(rows: record.rows)
            tally.staged(collection: unit.collection.name, segments: unit.members.count, rows: record.rows, deletedRows: record.deletedRows,
                         bytes: record.hasStagedFiles ? record.files.reduce(0) { $0 + $1.bytes } : 0, worked: worked, started: started)
        }
        try Self.requireNoFailures(failures, job: "dump")
        return tally.dumpReport(seconds: progress.elapsed, stagingLocation: staging.location, removedLeftovers: removed)
    }

    // MARK: load = import + count

    /// Imports every segment of the staged dump (its meta.json, `collections` selected, renamed
    /// by `renames`) into `target`, `importParallelism` at a time, and checks the counts.
    public func load(into target: any MigrationTarget, collections selected: [String] = [], renames: [String: String] = [:]) async throws -> LoadReport {
        let started = Date()
        try await requireBulkImport(target)
        guard let metaBytes = try await staging.readSmallFile("meta.json") else {
            throw MigrationError.usage("no dump found in \(staging.location) (meta.json is missing); run dump first")
        }
        let meta = try MetaJSON.decode(Data(metaBytes), origin: "\(staging.location)/meta.json").selecting(selected)
        if let problem = meta.diagnostics.errors.first { throw MigrationError.meta(source: meta.origin, message: problem.description) }
        let journal = try await openJournal()

        // Every segment (of this shard) must be staged, with the files the journal recorded, in
        // the units (groups) the dump staged.
        let units = select(SegmentUnit.all(of: meta, renames: renames, fields: options.fields, journaledKeys: try await journaledKeys(journal)))
        for unit in units {
            guard let record = await journal.record(unit.key), record.phase != .pending, !record.files.isEmpty else {
                throw MigrationError.usage("\(unit) was not dumped (no staged files in \(staging.location)/\(journal.name)); run dump\(options.shard.map { " --shard \($0)" } ?? "") first")
            }
        }
        let collections = meta.collections.map { (source: $0, target: renames[$0.name] ?? $0.name) }
        var tally = RunTally(collections.map { ($0.source.name, $0.target) })
        let active = try await prepare(collections, units: units, target: target, journal: journal, tally: &tally)
        for unit in active { tally.segmentToLoad(collection: unit.collection.name, segments: unit.members.count) }
        await journal.trackPhases(of: active.map(\.metricsKey))
        try await ReconcileStep(target: target, staging: staging, journal: journal, options: options).run(active)

        var pending: [SegmentUnit] = []
        for unit in active {
            let record = await journal.record(unit.key)!
            if record.phase == .imported {
                MigrationMetrics.unitSkipped(.load, collection: unit.collection.name)
                tally.imported(collection: unit.collection.name, segments: unit.members.count, rows: record.rows, task: record.importTask, now: false)
            } else {
                pending.append(unit)
            }
        }
        if pending.isEmpty && !active.isEmpty {
            logger.notice("every segment was imported by an earlier run; nothing to import")
        }

        await announce("load", active, journal: journal)
        let progress = ProgressReporter(title: "load", totalUnits: pending.count, totalBytes: 0, unitName: "imports", quiet: options.quiet || pending.isEmpty,
                                        observer: options.observer)
        progress.start()
        let importStep = ImportStep(target: target, staging: staging, journal: journal, options: options)
        let failures = try await Self.withProgress(progress) {
            try await BoundedWindow.run(pending, width: options.importParallelism) { unit in
                try await importStep.run(unit)
            } onResult: { unit, outcome in
                guard case .success(let record) = outcome else { return }
                progress.finishUnit(rows: record.rows)
                tally.imported(collection: unit.collection.name, segments: unit.members.count, rows: record.rows, task: record.importTask, now: true)
            }
        }
        try Self.requireNoFailures(failures, job: "load")
        try await countAndFinish(collections, units: active, target: target, journal: journal, tally: &tally)
        try await cleanup(active, journal: journal, tally: &tally)
        return shardReport(tally.loadReport(seconds: Date().timeIntervalSince(started), endpoint: target.endpoint))
    }

    // MARK: start = stage and import, overlapped, + count

    /// Stages and imports every live segment of `plan`: a segment is imported as soon as its
    /// files are staged, so loading overlaps dumping; at most `stageParallelism` segments are
    /// being staged and `importParallelism` imported at any moment.
    public func start(_ plan: MigrationPlan, from source: any SourceStorage, into target: any MigrationTarget) async throws -> LoadReport {
        let started = Date()
        try await requireBulkImport(target)
        let (journal, collections, opened, active) = try await open(plan, target: target)
        var tally = opened
        // Imports an earlier run left open are settled before anything is staged or imported.
        try await ReconcileStep(target: target, staging: staging, journal: journal, options: options).run(active)

        await announce("start", active, journal: journal)
        let progress = ProgressReporter(title: "start", totalUnits: active.count, totalBytes: active.reduce(0) { $0 + $1.payloadBytes },
                                        etaFromFinished: true, quiet: options.quiet, observer: options.observer)
        progress.start()
        let staging = AsyncSemaphore(options.stageParallelism)
        let importing = AsyncSemaphore(options.importParallelism)
        let stage = StageStep(source: source, staging: self.staging, journal: journal, bufferBytes: options.bufferBytes, progress: progress)
        let importStep = ImportStep(target: target, staging: self.staging, journal: journal, options: options)
        var finished: [SegmentUnit] = []
        let failures = try await Self.withProgress(progress) {
            try await BoundedWindow.run(active, width: options.stageParallelism + options.importParallelism) { unit in
                // Files kept from an earlier run are read back and checked before they are imported.
                let (record, _) = try await staging.with { try await stage.run(unit, checkContent: true) }
                if record.step == .done {
                    MigrationMetrics.unitSkipped(.load, collection: unit.collection.name)
                    return (record, false)
                }
                let imported = try await importing.with { try await importStep.run(unit, checkFiles: false) }
                return (imported, true)
            } onResult: { unit, outcome in
                guard case .success(let (record, worked)) = outcome else { return }
                progress.finishUnit(rows: record.rows, bytes: unit.payloadBytes)
                finished.append(unit)
                tally.segmentToLoad(collection: unit.collection.name, segments: unit.members.count)
                tally.imported(collection: unit.collection.name, segments: unit.members.count, rows: record.rows, task: record.importTask, now: worked)
            }
        }
        try Self.requireNoFailures(failures, job: "start")
        try await countAndFinish(collections, units: finished, target: target, journal: journal, tally: &tally)
        try await cleanup(finished, journal: journal, tally: &tally)
        return shardReport(tally.loadReport(seconds: Date().timeIntervalSince(started), endpoint: target.endpoint))
    }

    // MARK: insert = read and insert, + count (loader.mode: insert)

    /// Sends every live segment of `plan` to `target` in `Insert` requests, `importParallelism`
    /// segments at a time, nothing staged (the staging area holds only meta.json and the
    /// journal), then checks the counts by the target's row rule.
    public func insert(_ plan: MigrationPlan, from source: any SourceStorage, into target: any MigrationTarget) async throws -> LoadReport {
        let started = Date()
        try plan.requireExecutable()
        if let shard = options.shard {
            // Insert mode settles a batch whose answer was lost from the partition counts, which
            // the other shards change at the same time.
            throw MigrationError.usage("--shard \(shard): loader.mode insert cannot run sharded (its resume decides lost batches from partition counts, which other shards change); use loader.mode import, or run insert mode without shards")
        }
        let capabilities = try await target.capabilities()
        // A collection the target cannot hold fails the run before any row is sent.
        if !capabilities.binaryVectors, let c = plan.collections.first(where: { $0.source.vectorKind == .binary }) {
            throw MigrationError.target(.unsupported, subject: "collection '\(c.source.name)'",
                                        message: "has binary vectors, which the target (\(capabilities.version) at \(target.endpoint)) does not support; nothing was sent (migrate it into a Milvus 2.x server, or leave it out with --col)")
        }
        let (journal, collections, opened, active) = try await open(plan, target: target, groupBytes: 0)
        var tally = opened
        let reconcile = ReconcileStep(target: target, staging: staging, journal: journal, options: options)
        // Imports of an earlier import-mode run, then batches whose answer was lost.
        try await reconcile.run(active)
        try await reconcile.resolveInserts(active, rule: capabilities.rowRule)

        await announce("insert", active, journal: journal)
        let progress = ProgressReporter(title: "insert", totalUnits: active.count, totalBytes: active.reduce(0) { $0 + $1.payloadBytes }, quiet: options.quiet,
                                        observer: options.observer)
        progress.start()
        let step = InsertStep(target: target, source: source, journal: journal, options: options, lanes: InsertLanes(), progress: progress)
        let failures = try await Self.withProgress(progress) {
            try await BoundedWindow.run(active, width: options.importParallelism) { unit in
                try await step.run(unit)
            } onResult: { unit, outcome in
                guard case .success(let (record, worked)) = outcome else { return }
                progress.finishUnit(rows: record.rows, bytes: unit.payloadBytes)
                tally.segmentToLoad(collection: unit.collection.name, segments: unit.members.count)
                tally.imported(collection: unit.collection.name, segments: unit.members.count, rows: record.rows, task: nil, now: worked)
            }
        }
        try Self.requireNoFailures(failures, job: "insert")
        var distinct: [String: Int64] = [:]
        if capabilities.rowRule == .onePerPrimaryKey {
            for (c, _) in collections where !tally.isSkipped(c.name) {
                distinct[c.name] = try await DistinctIds.scan(active.filter { $0.collection.name == c.name }.flatMap(\.layouts),
                                                              source: source, bufferBytes: options.bufferBytes).count
            }
        }
        try await countAndFinish(collections, units: active, target: target, journal: journal, tally: &tally,
                                 rule: capabilities.rowRule, distinctIds: distinct)
        // Files an earlier import-mode run staged for segments this run inserted.
        try await cleanup(active, journal: journal, tally: &tally)
        var report = tally.loadReport(seconds: Date().timeIntervalSince(started), endpoint: target.endpoint)
        report.inserted = true
        report.countsDistinctIds = capabilities.rowRule == .onePerPrimaryKey
        return shardReport(report)
    }

    // MARK: shared pieces

    /// Opens the journal, removes half-written files (of this shard's segments when sharded) and
    /// writes meta.json of what is being migrated: the whole plan, so every shard writes the same
    /// file and `load --shard` splits it as `dump --shard` split the plan.
    /// Also returns this run's units: the plan's segments, grouped up to `groupBytes` where no
    /// journal of the job fixes their shape, and selected for this shard.
    func begin(_ plan: MigrationPlan, groupBytes: Int64) async throws -> (removed: Int, journal: JobJournal, units: [SegmentUnit]) {
        try await staging.prepare()
        let journal = try await openJournal()
        let all = SegmentUnit.all(of: plan, fields: options.fields, groupBytes: groupBytes, journaledKeys: try await journaledKeys(journal))
        let removed = try await staging.removeLeftovers(leftoverScope(all))
        if removed > 0 { logger.notice("removed \(removed) half-written file(s) left by an interrupted run") }
        let meta = SourceMeta(collections: plan.collections.map(\.source), origin: plan.metaOrigin)
        try await staging.writeSmallFile("meta.json", Array(MetaJSON.encode(meta).utf8))
        return (removed, journal, select(all))
    }

    /// The units every journal of the job holds (this run's and, sharded, the other shards'):
    /// their shapes (segment or group) are fixed, so all shards agree on them after any change
    /// of `dumper.worker.groupMB`.
    func journaledKeys(_ journal: JobJournal) async throws -> [String] {
        var keys = await journal.all.map(\.key)
        if let shard = options.shard {
            let peers = ShardPeers(staging: staging, shard: shard)
            for index in 0..<shard.count where index != shard.index {
                keys += try await peers.journal(of: index).all.map(\.key)
            }
        }
        return keys
    }

    /// What `start` and `insert` do before their units run: the plan checked, meta.json written,
    /// the journal opened, the collections prepared; returns the units of the collections kept.
    /// `groupBytes` is 0 for `insert` (each segment is sent on its own; only groups an earlier
    /// import-mode run staged keep their shape).
    func open(_ plan: MigrationPlan, target: any MigrationTarget, groupBytes: Int64? = nil) async throws
        -> (JobJournal, [(source: SourceCollection, target: String)], RunTally, [SegmentUnit]) {
        try plan.requireExecutable()
        let (_, journal, units) = try await begin(plan, groupBytes: groupBytes ?? options.groupBytes)
        let collections = plan.collections.map { (source: $0.source, target: $0.targetName) }
        var tally = RunTally(collections.map { ($0.source.name, $0.target) })
        let active = try await prepare(collections, units: units, target: target, journal: journal, tally: &tally)
        await journal.trackPhases(of: active.map(\.metricsKey))
        return (journal, collections, tally, active)
    }

    /// `CollectionStep.prepare` for every collection; returns the units of the collections that
    /// are not skipped.
    func prepare(_ collections: [(source: SourceCollection, target: String)], units: [SegmentUnit], target: any MigrationTarget,
                 journal: JobJournal, tally: inout RunTally) async throws -> [SegmentUnit] {
        let peers = options.shard.map { ShardPeers(staging: staging, shard: $0) }
        let step = CollectionStep(target: target, journal: journal, options: options, stagingLocation: staging.location, peers: peers)
        for (c, name) in collections {
            if try await !step.prepare(c, into: name, units: units.filter { $0.collection.name == c.name }) {
                tally.skipped(collection: c.name)
            }
        }
        return units.filter { !tally.isSkipped($0.collection.name) }
    }

    /// `CountStep` over the collections that were not skipped, then `CollectionStep.finish`.
    func countAndFinish(_ collections: [(source: SourceCollection, target: String)], units: [SegmentUnit], target: any MigrationTarget,
                        journal: JobJournal, tally: inout RunTally,
                        rule: TargetCapabilities.RowRule = .everyRow, distinctIds: [String: Int64] = [:]) async throws {
        let kept = collections.filter { !tally.isSkipped($0.source.name) }
        let counts = try await CountStep(target: target, journal: journal, rule: rule, distinctIds: distinctIds, shard: options.shard).run(kept, units: units)
        for (name, c) in counts {
            tally.counted(collection: name, expected: c.expected, actual: c.actual)
            if let shard = options.shard, let total = c.collectionTotal {
                tally.note(collection: name, ["shard \(shard): the collection holds \(total) rows of all shards so far; verify checks the whole"])
            }
        }
        if let shard = options.shard {
            // The index and the load wait for every shard's rows: the final `verify --load` does them.
            if options.createIndex || options.loadCollection {
                logger.notice("shard \(shard): createIndex/loadCollection are left to the final verify --load (it builds the mapped index and loads once every shard is done)")
            }
            return
        }
        let step = CollectionStep(target: target, journal: journal, options: options, stagingLocation: staging.location)
        for (c, name) in kept {
            tally.note(collection: c.name, try await step.finish(c, into: name))
        }
    }

    /// `target.cleanup`: the staged files of the imported segments, after the counts passed
    /// (`countAndFinish` throws on a mismatch, the import loops on a failed import).
    /// Import mode needs a target that can bulk-import staged files; one that cannot (Milvus
    /// Lite) fails the run before anything is staged or created.
    func requireBulkImport(_ target: any MigrationTarget) async throws {
        let capabilities = try await target.capabilities()
        guard !capabilities.bulkImport else { return }
        throw MigrationError.target(.unsupported, subject: "Milvus at \(target.endpoint)",
                                    message: "\(capabilities.version) has no bulk Import, which loader.mode import needs; nothing was staged or created (set loader.mode: insert)")
    }

    func cleanup(_ units: [SegmentUnit], journal: JobJournal, tally: inout RunTally) async throws {
        guard options.cleanup else { return }
        let removed = try await CleanupStep(staging: staging, journal: journal).run(units)
        tally.cleanedUp(segments: removed.segments, files: removed.files, bytes: removed.bytes)
    }

    /// Stops the progress line however `body` ends.
    static func withProgress<T>(_ progress: ProgressReporter, _ body: () async throws -> T) async throws -> T {
        defer { progress.stop() }
        return try await body()
    }

    /// Throws `unitsFailed` naming the first failure.
    static func requireNoFailures(_ failures: [(SegmentUnit, MigrationError)], job: String) throws {
        for (_, error) in failures { MigrationMetrics.error(error, command: job, scope: "unit") }
        guard let (unit, error) = failures.first else { return }
        if error == .interrupted { throw MigrationError.interrupted }
        throw MigrationError.unitsFailed(job: job, failed: failures.count, unit: unit.key, first: error)
    }
}

extension MigrationPipeline {
    /// Hands the job's units to the observer (if any).
    func announce(_ job: String, _ units: [SegmentUnit], journal: JobJournal) async {
        guard let observer = options.observer else { return }
        var planned: [PlannedUnit] = []
        planned.reserveCapacity(units.count)
        for unit in units {
            let record = await journal.record(unit.key)
            let bytes = unit.payloadBytes > 0 ? unit.payloadBytes : (record?.files.reduce(0) { $0 + $1.bytes } ?? 0)
            planned.append(PlannedUnit(key: unit.key, collection: unit.collection.name, target: unit.target, partition: unit.partition.name,
                                       segments: unit.members.count, rows: unit.liveRows > 0 ? unit.liveRows : (record?.rows ?? 0),
                                       bytes: bytes, record: record))
        }
        observer.planned(job: job, units: planned)
    }
}
