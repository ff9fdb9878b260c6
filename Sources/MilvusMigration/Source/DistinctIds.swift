/// The distinct ids among the live rows of some segments, and the ids that occur more than once,
/// read from the source: what a target that keeps one row per primary key (Milvus Lite) ends up
/// with. Memory grows with the distinct ids (about 40 bytes each): meant for the small
/// collections such targets hold.
public struct DistinctIds: Sendable {
    public var count: Int64
    /// Ids of more than one live row (the target keeps the last write of each).
    public var repeated: Set<Int64>

    public static func scan(_ layouts: [SegmentLayout], source: any SourceStorage, bufferBytes: Int) async throws -> DistinctIds {
        var seen = Set<Int64>()
        var repeated = Set<Int64>()
        for layout in layouts {
            let file = try await source.open(layout.idsFile)
            let reader = LiveRowReader(file: file, rowBytes: 8, totalRows: layout.totalRows, deleted: layout.deleted,
                                       rowsPerChunk: max(1, bufferBytes / 8))
            while let chunk = try await reader.next() {
                try Task.checkCancellation()
                for i in 0..<chunk.liveRows {
                    let id = Int64(littleEndian: chunk.bytes.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
                    if !seen.insert(id).inserted { repeated.insert(id) }
                }
            }
        }
        return DistinctIds(count: Int64(seen.count), repeated: repeated)
    }
}
