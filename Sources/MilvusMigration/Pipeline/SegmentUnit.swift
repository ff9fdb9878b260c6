/// One work unit as the pipeline moves it: a segment, or a group of consecutive small segments of
/// one partition (`dumper.worker.groupMB`, see `SegmentGrouping`), staged as one NumPy pair and
/// imported by one task. One key (`<collection>/<partition>/<segment>`, or
/// `<collection>/<partition>/<first>..<last>` for a group: the journal's key) and one place that
/// says where its staged files go.
public struct SegmentUnit: Sendable, CustomStringConvertible {
    public var collection: SourceCollection
    public var partition: SourcePartition
    /// The segments, in id order (one unless grouped).
    public var members: [SourceSegment]
    /// The 2.x collection it goes into.
    public var target: String
    /// The checked source files of every member; empty when loading a staged dump (its source is
    /// not read).
    public var layouts: [SegmentLayout]
    public var key: String
    /// `tables/<collection>/<unit>` for the default partition (the reference tool's layout),
    /// `tables/<collection>/<partition>/<unit>` for the others.
    public var folder: String
    public var idPath: String
    public var vectorPath: String

    public init(collection: SourceCollection, partition: SourcePartition, members: [SourceSegment], target: String,
                layouts: [SegmentLayout], fields: FieldNames) {
        precondition(!members.isEmpty, "a unit has at least one segment")
        self.collection = collection
        self.partition = partition
        self.members = members
        self.target = target
        self.layouts = layouts
        let name = SegmentGrouping.unitName(first: members[0].id, last: members[members.count - 1].id)
        key = "\(collection.name)/\(partition.name)/\(name)"
        folder = partition.isDefault
            ? "tables/\(collection.name)/\(name)"
            : "tables/\(collection.name)/\(partition.name)/\(name)"
        idPath = "\(folder)/\(fields.id).npy"
        vectorPath = "\(folder)/\(fields.vector).npy"
    }

    public init(collection: SourceCollection, partition: SourcePartition, segment: SourceSegment, target: String,
                layout: SegmentLayout?, fields: FieldNames) {
        self.init(collection: collection, partition: partition, members: [segment], target: target,
                  layouts: layout.map { [$0] } ?? [], fields: fields)
    }

    public var description: String { members.count == 1 ? "segment \(key)" : "segment group \(key) (\(members.count) segments)" }

    /// The first segment.
    public var segment: SourceSegment { members[0] }

    /// The source layout of a single-segment unit (what `Insert` reads); nil for a group or when
    /// loading a staged dump.
    public var layout: SegmentLayout? { layouts.count == 1 && members.count == 1 ? layouts[0] : nil }

    /// The 2.x partition to import into; nil for the default one.
    var targetPartition: String? { partition.isDefault ? nil : partition.name }

    /// Live rows of the source (0 without layouts).
    var liveRows: Int64 { layouts.reduce(0) { $0 + $1.liveRows } }

    /// What the source looked like when staged (journal `sourceFingerprint`); a group's joins its
    /// members' (a single segment's is unchanged, so older journals still match).
    var fingerprint: String {
        guard !layouts.isEmpty else { return "" }
        return layouts.map { layout in
            "\(layout.segment.tableId)/\(layout.segment.id) rows=\(layout.totalRows) deleted=\(layout.deleted.count) bytes=\(layout.sourceBytes)"
        }.joined(separator: " + ")
    }

    /// The unit as the `units` gauges follow it (`JobJournal.trackPhases`).
    var metricsKey: (key: String, collection: String) { (key, collection.name) }

    /// What the shard split weighs the unit by: its members' sizes in the meta (which meta.json
    /// keeps, so `dump`, `start` and `load` of a shard agree).
    var shardBytes: Int64 { members.reduce(0) { $0 + $1.fileSize } }

    /// The source bytes progress counts for the unit: the row payload of its vector and id files,
    /// without the header each file starts with.
    var payloadBytes: Int64 {
        layouts.reduce(0) { $0 + $1.payloadBytes }
    }

    /// Every live segment of a plan (dump, start), small ones grouped up to `groupBytes` (0: none)
    /// except where `journaledKeys` (the journal's keys) fix a unit's shape.
    static func all(of plan: MigrationPlan, fields: FieldNames, groupBytes: Int64 = 0, journaledKeys: [String] = []) -> [SegmentUnit] {
        plan.collections.flatMap { c in
            c.partitions.flatMap { p in
                let byId = Dictionary(p.segments.map { ($0.segment.id, $0) }, uniquingKeysWith: { a, _ in a })
                let ids = SegmentGrouping.ordered(Array(byId.keys))
                let members = ids.map { SegmentGrouping.Member(id: $0, bytes: byId[$0]!.segment.fileSize) }
                let journaled = SegmentGrouping.journaled(keys: journaledKeys, collection: c.source.name, partition: p.source.name)
                return SegmentGrouping.runs(members, limit: groupBytes, journaled: journaled).map { run in
                    let layouts = ids[run].map { byId[$0]! }
                    return SegmentUnit(collection: c.source, partition: p.source, members: layouts.map(\.segment), target: c.targetName,
                                       layouts: layouts, fields: fields)
                }
            }
        }
    }

    /// Every unit of a staged dump's meta.json (load): the shapes the journal recorded when the
    /// segments were staged (a segment it does not know is a unit of its own).
    static func all(of meta: SourceMeta, renames: [String: String], fields: FieldNames, journaledKeys: [String] = []) -> [SegmentUnit] {
        meta.collections.flatMap { c in
            c.partitions.flatMap { p in
                let byId = Dictionary(p.segments.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                let ids = SegmentGrouping.ordered(Array(byId.keys))
                let members = ids.map { SegmentGrouping.Member(id: $0, bytes: byId[$0]!.fileSize) }
                let journaled = SegmentGrouping.journaled(keys: journaledKeys, collection: c.name, partition: p.name)
                return SegmentGrouping.runs(members, limit: 0, journaled: journaled).map { run in
                    SegmentUnit(collection: c, partition: p, members: ids[run].map { byId[$0]! }, target: renames[c.name] ?? c.name,
                                layouts: [], fields: fields)
                }
            }
        }
    }
}
