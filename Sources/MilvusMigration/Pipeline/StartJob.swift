import Foundation

/// `start`: dump and load as one pipelined job. A segment is imported as soon as its files are
/// staged, so loading overlaps dumping; at most `dumper.worker.limit` segments are being staged
/// and `loader.worker.limit` imported at any moment. It shares the journal with `dump` and `load`,
/// so `start` after a failed `dump` or `load` (or after Ctrl-C) resumes rather than redoes.
public struct StartJob: Sendable {
    public var dump: DumpJob
    public var load: LoadJob

    public init(dump: DumpJob, load: LoadJob) {
        self.dump = dump
        self.load = load
    }

    public func run() async throws -> LoadJob.Result {
        let started = Date()
        let plan = dump.plan
        try plan.requireExecutable()
        _ = try await dump.begin()
        let journal = try await JobJournal.open(dump.staging)
        let units = DumpJob.units(of: plan, idField: dump.options.idField, vectorField: dump.options.vectorField)

        var results: [String: LoadJob.CollectionResult] = [:]
        for c in plan.collections {
            results[c.source.name] = LoadJob.CollectionResult(source: c.source.name, target: c.targetName)
            let earlier = await units.filter { $0.collection.name == c.source.name }.asyncCompactMap { unit in
                await journal.record(unit.key).map { LoadJob.Unit(collection: unit.collection, partition: unit.partition, target: c.targetName, record: $0) }
            }
            if try await !load.prepare(c.source, target: c.targetName, journal: journal, units: earlier) {
                results[c.source.name]!.skipped = true
                results[c.source.name]!.notes.append("exists; skipped (onExisting: skip)")
            }
        }
        let active = units.filter { !results[$0.collection.name]!.skipped }
        let targets = Dictionary(uniqueKeysWithValues: plan.collections.map { ($0.source.name, $0.targetName) })
        // Imports an earlier run left open are settled before anything is staged or imported.
        let earlier = await active.asyncCompactMap { unit in
            await journal.record(unit.key).map { LoadJob.Unit(collection: unit.collection, partition: unit.partition, target: targets[unit.collection.name]!, record: $0) }
        }
        try await load.reconcile(earlier, journal: journal)

        let totalBytes = active.reduce(Int64(0)) { $0 + $1.layout.sourceBytes - 16 }
        let progress = ProgressReporter(title: "start", totalUnits: active.count, totalBytes: totalBytes, quiet: dump.options.quiet)
        progress.start()
        let staging = AsyncSemaphore(dump.options.parallelism)
        let importing = AsyncSemaphore(load.options.parallelism)
        let converter = SegmentConverter(source: dump.source, staging: dump.staging, bufferBytes: dump.options.bufferBytes)
        let dump = self.dump, load = self.load
        var finished: [LoadJob.Unit] = []
        let failures = try await BoundedWindow.run(active, width: dump.options.parallelism + load.options.parallelism) { unit in
            // Files kept from an earlier run are read back and checked before they are imported.
            let (record, _) = try await staging.with { try await dump.stage(unit, journal: journal, converter: converter, progress: progress, checkContent: true) }
            let loadUnit = LoadJob.Unit(collection: unit.collection, partition: unit.partition, target: targets[unit.collection.name]!, record: record)
            if record.step == .done { return (loadUnit, false) }
            let imported = try await importing.with { try await load.importSegment(loadUnit, journal: journal, checkFiles: false) }
            return (LoadJob.Unit(collection: unit.collection, partition: unit.partition, target: loadUnit.target, record: imported), true)
        } onResult: { unit, outcome in
            guard case .success(let (loadUnit, worked)) = outcome else { return }
            progress.finishUnit(rows: loadUnit.record.rows)
            finished.append(loadUnit)
            results[unit.collection.name]!.segments += 1
            if worked {
                results[unit.collection.name]!.rowsImported += loadUnit.record.rows
            } else {
                results[unit.collection.name]!.alreadyImported += 1
            }
            if let t = loadUnit.record.importTask { results[unit.collection.name]!.tasks.append(t) }
        }
        progress.stop()
        if let first = failures.first {
            if case .interrupted = first.1 { throw MigrationError.interrupted }
            throw MigrationError.target(subject: "start", message: "\(failures.count) segment(s) failed; finished segments are recorded and a rerun continues. First: segment \(first.0.key): \(first.1.description)")
        }
        let meta = SourceMeta(collections: plan.collections.map(\.source), origin: plan.metaOrigin)
        try await load.verifyCounts(meta: meta, units: finished, journal: journal, results: &results)
        for c in plan.collections where !results[c.source.name]!.skipped {
            try await load.finish(c.source, target: c.targetName, results: &results[c.source.name]!)
        }
        return LoadJob.Result(collections: plan.collections.map { results[$0.source.name]! },
                              seconds: Date().timeIntervalSince(started), endpoint: load.client.endpoint)
    }
}

extension Array where Element: Sendable {
    func asyncCompactMap<T>(_ transform: (Element) async throws -> T?) async rethrows -> [T] {
        var out: [T] = []
        for element in self { if let value = try await transform(element) { out.append(value) } }
        return out
    }
}
