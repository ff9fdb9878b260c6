/// What a migration will do, checked before any data moves: per collection and partition the 2.x
/// names and every live segment with its validated files, plus every problem found.
public struct MigrationPlan: Sendable {
    public struct CollectionPlan: Sendable {
        public var source: SourceCollection
        /// The 2.x collection name (the 1.x name unless renamed in the config).
        public var targetName: String
        public var partitions: [PartitionPlan]

        public var segments: [SegmentLayout] { partitions.flatMap(\.segments) }
        public var liveRows: Int64 { partitions.reduce(0) { $0 + $1.liveRows } }
        public var deletedRows: Int64 { partitions.reduce(0) { $0 + $1.deletedRows } }
        public var sourceBytes: Int64 { partitions.reduce(0) { $0 + $1.sourceBytes } }
        public var stagedBytes: Int64 { partitions.reduce(0) { $0 + $1.stagedBytes(source) } }
    }

    public struct PartitionPlan: Sendable {
        public var source: SourcePartition
        /// Segments whose files passed validation.
        public var segments: [SegmentLayout]

        public var liveRows: Int64 { segments.reduce(0) { $0 + $1.liveRows } }
        public var deletedRows: Int64 { segments.reduce(0) { $0 + Int64($1.deleted.count) } }
        public var sourceBytes: Int64 { segments.reduce(0) { $0 + $1.sourceBytes } }
        /// Bytes of the `.npy` files the dump writes for this partition.
        public func stagedBytes(_ collection: SourceCollection) -> Int64 {
            segments.reduce(0) { sum, s in
                sum + NumPyHeader.ids(rows: s.liveRows).fileSize
                    + NumPyHeader.vectors(rows: s.liveRows, kind: collection.vectorKind, dimension: collection.dimension).fileSize
            }
        }
    }

    public var collections: [CollectionPlan]
    public var diagnostics: [Diagnostic]
    /// Where the meta and the segment files came from, for reports.
    public var metaOrigin: String
    public var sourceLocation: String

    public var problems: [Diagnostic] { diagnostics.errors }
    public var isExecutable: Bool { problems.isEmpty }
    public var liveRows: Int64 { collections.reduce(0) { $0 + $1.liveRows } }
    public var segmentCount: Int { collections.reduce(0) { $0 + $1.segments.count } }

    /// Throws `planFailed` unless the plan has no errors.
    public func requireExecutable() throws {
        if let first = problems.first {
            throw MigrationError.planFailed(problems: problems.count, firstProblem: first.description)
        }
    }
}
