/// One segment as the pipeline moves it: the single work unit of `dump`, `load` and `start`,
/// with one key (`<collection>/<partition>/<segment>`, the journal's key) and one place that
/// says where its staged files go.
public struct SegmentUnit: Sendable, CustomStringConvertible {
    public var collection: SourceCollection
    public var partition: SourcePartition
    public var segment: SourceSegment
    /// The 2.x collection it goes into.
    public var target: String
    /// The checked source files; nil when loading a staged dump (its source is not read).
    public var layout: SegmentLayout?
    public var key: String
    /// `tables/<collection>/<segment>` for the default partition (the reference tool's layout),
    /// `tables/<collection>/<partition>/<segment>` for the others.
    public var folder: String
    public var idPath: String
    public var vectorPath: String

    public init(collection: SourceCollection, partition: SourcePartition, segment: SourceSegment, target: String,
                layout: SegmentLayout?, fields: FieldNames) {
        self.collection = collection
        self.partition = partition
        self.segment = segment
        self.target = target
        self.layout = layout
        key = "\(collection.name)/\(partition.name)/\(segment.id)"
        folder = partition.isDefault
            ? "tables/\(collection.name)/\(segment.id)"
            : "tables/\(collection.name)/\(partition.name)/\(segment.id)"
        idPath = "\(folder)/\(fields.id).npy"
        vectorPath = "\(folder)/\(fields.vector).npy"
    }

    public var description: String { "segment \(key)" }

    /// The 2.x partition to import into; nil for the default one.
    var targetPartition: String? { partition.isDefault ? nil : partition.name }

    /// What the source looked like when staged (journal `sourceFingerprint`).
    var fingerprint: String {
        guard let layout else { return "" }
        return "\(layout.segment.tableId)/\(layout.segment.id) rows=\(layout.totalRows) deleted=\(layout.deleted.count) bytes=\(layout.sourceBytes)"
    }

    /// The source bytes progress counts for the segment: the row payload of its vector and id
    /// files, without the 8-byte row-count header each file starts with.
    var payloadBytes: Int64 {
        guard let layout else { return 0 }
        return layout.sourceBytes - 2 * 8
    }

    /// Every live segment of a plan (dump, start).
    static func all(of plan: MigrationPlan, fields: FieldNames) -> [SegmentUnit] {
        plan.collections.flatMap { c in
            c.partitions.flatMap { p in
                p.segments.map { layout in
                    SegmentUnit(collection: c.source, partition: p.source, segment: layout.segment, target: c.targetName,
                                layout: layout, fields: fields)
                }
            }
        }
    }

    /// Every segment of a staged dump's meta.json (load).
    static func all(of meta: SourceMeta, renames: [String: String], fields: FieldNames) -> [SegmentUnit] {
        meta.collections.flatMap { c in
            c.partitions.flatMap { p in
                p.segments.map { s in
                    SegmentUnit(collection: c, partition: p, segment: s, target: renames[c.name] ?? c.name, layout: nil, fields: fields)
                }
            }
        }
    }
}
