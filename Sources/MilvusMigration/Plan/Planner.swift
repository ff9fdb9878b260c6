/// Builds a `MigrationPlan`: checks every live segment's files against the meta (in parallel, a
/// bounded sliding window) and collects every problem instead of stopping at the first.
public struct Planner: Sendable {
    public var storage: any SourceStorage
    /// Segments inspected at once.
    public var parallelism: Int
    /// 1.x name → 2.x name (`target.milvus2x.collections`).
    public var renames: [String: String]

    public init(storage: any SourceStorage, parallelism: Int = 8, renames: [String: String] = [:]) {
        self.storage = storage
        self.parallelism = max(1, parallelism)
        self.renames = renames
    }

    /// Throws only `interrupted` (the task was cancelled); every other problem is in the plan.
    public func plan(_ meta: SourceMeta) async throws -> MigrationPlan {
        var diagnostics = meta.diagnostics
        let inspector = SegmentInspector(storage: storage)

        // Every (collection, partition, segment) to inspect, in order.
        struct Job: Sendable { var c: Int; var p: Int; var s: Int; var segment: SourceSegment; var collection: SourceCollection }
        var jobs: [Job] = []
        for (ci, c) in meta.collections.enumerated() {
            for (pi, p) in c.partitions.enumerated() {
                for (si, s) in p.segments.enumerated() { jobs.append(Job(c: ci, p: pi, s: si, segment: s, collection: c)) }
            }
        }
        var results = [[[Result<(SegmentLayout, [Diagnostic]), MigrationError>?]]](
            meta.collections.map { c in c.partitions.map { [Result<(SegmentLayout, [Diagnostic]), MigrationError>?](repeating: nil, count: $0.segments.count) } })

        // Every segment is inspected (a failure is a problem of the plan, not a reason to stop).
        _ = try await BoundedWindow.run(jobs, width: parallelism, stopAtFirstFailure: false) { job in
            try await inspector.inspect(job.segment, of: job.collection)
        } onResult: { job, result in
            results[job.c][job.p][job.s] = result.mapError { error in
                if case .unexpected(_, let message) = error {
                    return .segment(file: storage.display(job.segment.relativeFolder), message: message)
                }
                return error
            }
        }

        var targetNames: [String: String] = [:]
        var collections: [MigrationPlan.CollectionPlan] = []
        for (ci, c) in meta.collections.enumerated() {
            let target = renames[c.name] ?? c.name
            if !NameRules.isValidCollectionName(target) {
                diagnostics.append(.error("collection '\(c.name)'", "target name '\(target)' is not a valid 2.x collection name"))
            }
            if let other = targetNames[target] {
                diagnostics.append(.error("collection '\(c.name)'", "2.x name '\(target)' is also the target of collection '\(other)'"))
            }
            targetNames[target] = c.name
            if c.metric == .substructure || c.metric == .superstructure {
                diagnostics.append(.warning("collection '\(c.name)'", "metric \(c.metric!.name) exists only in early 2.x releases; the data migrates but an index with this metric may be refused"))
            }
            var partitions: [MigrationPlan.PartitionPlan] = []
            for (pi, p) in c.partitions.enumerated() {
                var layouts: [SegmentLayout] = []
                for result in results[ci][pi] {
                    switch result {
                    case .success(let (layout, warnings))?:
                        layouts.append(layout)
                        diagnostics += warnings
                    case .failure(let error)?:
                        diagnostics.append(.error("collection '\(c.name)'", error.description))
                    case nil:
                        break
                    }
                }
                partitions.append(.init(source: p, segments: layouts))
            }
            collections.append(.init(source: c, targetName: target, partitions: partitions))
        }
        for name in renames.keys.sorted() where meta.collection(named: name) == nil {
            diagnostics.append(.warning("target.milvus2x.collections", "renames '\(name)', which is not a selected 1.x collection"))
        }
        return MigrationPlan(collections: collections, diagnostics: diagnostics,
                             metaOrigin: meta.origin, sourceLocation: storage.location)
    }
}
