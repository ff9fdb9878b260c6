/// Streams the live rows of one segment file (`.rv` or `.uid`, docs/FORMAT.md §3, §6): reads up to
/// `rowsPerChunk` physical rows at a time after the header and hands over the bytes of the
/// rows that are not deleted, in order. Used by the conversion (every live row into NumPy) and by
/// `verify --full` (every live row compared).
///
/// Memory is two buffers of `rowsPerChunk × rowBytes`, allocated once: the chunk as read, and the
/// live rows packed together when the chunk has deleted rows (a chunk without deleted rows is
/// handed over as read, without a copy). One read per chunk, no allocation per row or per chunk.
public final class LiveRowReader {
    /// The live rows of one chunk.
    public struct Chunk {
        /// The live rows' bytes, `liveRows × rowBytes`; valid until the next call of `next()`.
        public var bytes: UnsafeRawBufferPointer
        public var liveRows: Int
        /// The first physical row of the chunk and the physical rows it covers (deleted included).
        public var firstRow: Int64
        public var physicalRows: Int
    }

    public let file: any SourceFile
    public let rowBytes: Int
    public let totalRows: Int64
    public let deleted: DeletedOffsets
    public let rowsPerChunk: Int
    /// The next physical row to read.
    public private(set) var row: Int64 = 0
    private let input: UnsafeMutableRawBufferPointer
    private let output: UnsafeMutableRawBufferPointer

    /// `rowBytes` > 0; `rowsPerChunk` is raised to 1 at least. Reading starts at physical row
    /// `startRow` (a resume: `deleted.physicalRow(live:)` of the first live row wanted).
    public init(file: any SourceFile, rowBytes: Int, totalRows: Int64, deleted: DeletedOffsets, rowsPerChunk: Int, startRow: Int64 = 0) {
        precondition(rowBytes > 0, "a row has at least one byte")
        precondition(startRow >= 0 && startRow <= totalRows, "the start row lies in the file")
        row = startRow
        self.file = file
        self.rowBytes = rowBytes
        self.totalRows = totalRows
        self.deleted = deleted
        self.rowsPerChunk = max(1, rowsPerChunk)
        input = .allocate(byteCount: self.rowsPerChunk * rowBytes, alignment: 16)
        output = .allocate(byteCount: self.rowsPerChunk * rowBytes, alignment: 16)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// The next chunk, or nil after the last row. A chunk may hold no live row (all deleted).
    public func next() async throws -> Chunk? {
        guard row < totalRows else { return nil }
        let n = Int(min(Int64(rowsPerChunk), totalRows - row))
        let chunk = UnsafeMutableRawBufferPointer(rebasing: input[0..<(n * rowBytes)])
        try await file.read(at: SegmentLayout.offset(ofRow: row, rowBytes: rowBytes), into: chunk)
        let first = row
        row += Int64(n)
        guard let used = LiveRowReader.pack(UnsafeRawBufferPointer(chunk), firstRow: first, rowBytes: rowBytes,
                                            deleted: deleted, into: output) else {
            return Chunk(bytes: UnsafeRawBufferPointer(chunk), liveRows: n, firstRow: first, physicalRows: n)
        }
        return Chunk(bytes: UnsafeRawBufferPointer(rebasing: output[0..<used]), liveRows: used / rowBytes,
                     firstRow: first, physicalRows: n)
    }

    /// Copies the live rows of `chunk` (physical rows `firstRow…`, `rowBytes` each) into `output`,
    /// runs of live rows at a time, and returns the bytes used; nil when no row of the chunk is
    /// deleted (nothing copied: the chunk itself is the answer). `output` holds at least `chunk`.
    public static func pack(_ chunk: UnsafeRawBufferPointer, firstRow: Int64, rowBytes: Int, deleted: DeletedOffsets,
                            into output: UnsafeMutableRawBufferPointer) -> Int? {
        let end = firstRow + Int64(chunk.count / rowBytes)
        guard var next = deleted.nextDeleted(from: firstRow, before: end) else { return nil }
        var used = 0
        var cursor = firstRow
        while cursor < end {
            let stop = next
            if stop > cursor {
                let from = Int(cursor - firstRow) * rowBytes
                let count = Int(stop - cursor) * rowBytes
                (output.baseAddress! + used).copyMemory(from: chunk.baseAddress! + from, byteCount: count)
                used += count
            }
            cursor = stop < end ? stop + 1 : end
            next = deleted.nextDeleted(from: cursor, before: end) ?? end
        }
        return used
    }
}
