/// A live segment whose files were found and checked against each other and against the meta:
/// everything the dump needs to stream it.
public struct SegmentLayout: Sendable, Equatable {
    public var segment: SourceSegment
    /// Paths relative to the tables folder.
    public var vectorsFile: String
    public var idsFile: String
    public var deletedDocsFile: String
    /// Rows in `.rv`/`.uid`, deleted ones included.
    public var totalRows: Int64
    public var bytesPerRow: Int
    public var deleted: DeletedOffsets
    /// The row payload of `.rv` and `.uid` together, without their headers.
    public var payloadBytes: Int64

    public var liveRows: Int64 { totalRows - Int64(deleted.count) }
    /// Source bytes read by a dump: both files with their headers.
    public var sourceBytes: Int64 { payloadBytes + 2 * Self.headerBytes }

    /// Every 1.x segment file (`.rv`, `.uid`, `deleted_docs`) starts with an 8-byte header, the
    /// payload's length as a little-endian u64; the rows follow it (docs/FORMAT.md §3.1).
    public static let headerBytes: Int64 = 8

    /// Where physical row `row` of `rowBytes` bytes starts in a segment file.
    public static func offset(ofRow row: Int64, rowBytes: Int) -> Int64 {
        headerBytes + row * Int64(rowBytes)
    }
}

/// Finds a segment's raw files by listing its folder (as 1.x does) and validates them:
/// header against file size, payload against the dimension, `.rv` rows against `.uid` rows,
/// live rows against the meta's `row_count` (docs/FORMAT.md §3, §5.4).
public struct SegmentInspector: Sendable {
    public let storage: any SourceStorage

    public init(storage: any SourceStorage) {
        self.storage = storage
    }

    /// Validates one segment. Fatal problems throw a `MigrationError` naming the file; tolerable
    /// ones are returned as warnings.
    public func inspect(_ segment: SourceSegment, of collection: SourceCollection) async throws -> (SegmentLayout, [Diagnostic]) {
        var warnings: [Diagnostic] = []
        let folder = segment.relativeFolder
        guard let names = try await storage.list(folder) else {
            throw MigrationError.segment(file: storage.display(folder), message: "segment folder is missing (the meta lists segment \(segment.id) of table '\(segment.tableId)' as live)")
        }
        let vectors = try exactlyOne(names.filter { $0.hasSuffix(".rv") }, kind: ".rv", folder: folder)
        let ids = try exactlyOne(names.filter { $0.hasSuffix(".uid") }, kind: ".uid", folder: folder)
        guard names.contains("deleted_docs") else {
            throw MigrationError.segment(file: storage.display("\(folder)/deleted_docs"), message: "missing (1.x writes it at every flush; the copy of this segment is incomplete)")
        }
        let vectorsPath = "\(folder)/\(vectors)"
        let idsPath = "\(folder)/\(ids)"
        let deletedPath = "\(folder)/deleted_docs"

        let bytesPerRow = collection.bytesPerRow
        guard bytesPerRow > 0 else {
            throw MigrationError.segment(file: storage.display(vectorsPath), message: "collection '\(collection.name)' has dimension \(collection.dimension), which gives no valid row size for \(collection.vectorKind.rawValue) vectors")
        }
        let vectorBytes = try await payloadLength(vectorsPath)
        guard vectorBytes % Int64(bytesPerRow) == 0 else {
            throw MigrationError.segment(file: storage.display(vectorsPath), message: "payload of \(vectorBytes) bytes is not a whole number of rows of \(bytesPerRow) bytes (\(collection.vectorKind.rawValue) dim \(collection.dimension))")
        }
        let idBytes = try await payloadLength(idsPath)
        guard idBytes % 8 == 0 else {
            throw MigrationError.segment(file: storage.display(idsPath), message: "payload of \(idBytes) bytes is not a multiple of 8 (int64 ids)")
        }
        let rows = vectorBytes / Int64(bytesPerRow)
        guard rows == idBytes / 8 else {
            throw MigrationError.segment(file: storage.display(vectorsPath), message: "holds \(rows) rows but \(ids) holds \(idBytes / 8)")
        }

        let deletedFile = try await storage.open(deletedPath)
        let deletedBytes = try await payloadLength(deletedPath, file: deletedFile)
        guard deletedBytes % 4 == 0 else {
            throw MigrationError.segment(file: storage.display(deletedPath), message: "payload of \(deletedBytes) bytes is not a multiple of 4 (int32 offsets)")
        }
        let deleted = try await readDeletedOffsets(deletedFile, payloadBytes: deletedBytes, rows: rows)
        if deleted.outOfRangeCount > 0 {
            warnings.append(.warning(storage.display(deletedPath), "\(deleted.outOfRangeCount) offset(s) outside 0..<\(rows) ignored (first: \(deleted.outOfRangeSample[0]))"))
        }

        let live = rows - Int64(deleted.count)
        if live != segment.rowCount {
            // ≤ 1.1.0 decremented row_count once per offset, duplicates included.
            let countingDuplicates = rows - Int64(deleted.count + deleted.duplicates)
            if deleted.duplicates > 0 && countingDuplicates == segment.rowCount {
                warnings.append(.warning(storage.display(deletedPath), "\(deleted.duplicates) duplicate offset(s): the meta's row_count \(segment.rowCount) counts them twice; \(live) rows are live and will be migrated"))
            } else {
                throw MigrationError.segment(file: storage.display(vectorsPath), message: "\(live) live rows (\(rows) rows − \(deleted.count) deleted) but the meta says row_count \(segment.rowCount)")
            }
        }
        if segment.fileSize > 0 && segment.fileSize != vectorBytes + idBytes {
            warnings.append(.warning(storage.display(folder), "meta file_size \(segment.fileSize) differs from the files' payload \(vectorBytes + idBytes) bytes"))
        }
        let layout = SegmentLayout(
            segment: segment, vectorsFile: vectorsPath, idsFile: idsPath, deletedDocsFile: deletedPath,
            totalRows: rows, bytesPerRow: bytesPerRow, deleted: deleted,
            payloadBytes: vectorBytes + idBytes)
        return (layout, warnings)
    }

    /// Streams the offsets into a bitmap of `rows` bits, a chunk at a time: memory is one chunk
    /// plus `rows / 8` bytes, whatever the size of the file.
    private func readDeletedOffsets(_ file: any SourceFile, payloadBytes: Int64, rows: Int64, chunkBytes: Int = 1 << 20) async throws -> DeletedOffsets {
        var deleted = DeletedOffsets(rows: rows)
        guard payloadBytes > 0 else {
            deleted.finish()
            return deleted
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: min(chunkBytes, Int(payloadBytes)), alignment: 16)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < payloadBytes {
            let n = Int(min(Int64(buffer.count), payloadBytes - done))
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
            try await file.read(at: SegmentLayout.headerBytes + done, into: chunk)
            deleted.add(littleEndian: UnsafeRawBufferPointer(chunk))
            done += Int64(n)
        }
        deleted.finish()
        return deleted
    }

    private func exactlyOne(_ matches: [String], kind: String, folder: String) throws -> String {
        guard matches.count == 1 else {
            let message = matches.isEmpty ? "no \(kind) file in the segment folder" : "\(matches.count) \(kind) files (\(matches.joined(separator: ", "))); expected exactly one"
            throw MigrationError.segment(file: storage.display(folder), message: message)
        }
        return matches[0]
    }

    /// The payload length from the header (`SegmentLayout.headerBytes`), checked against the
    /// file size.
    private func payloadLength(_ path: String, file: (any SourceFile)? = nil) async throws -> Int64 {
        let handle: any SourceFile
        if let file { handle = file } else { handle = try await storage.open(path) }
        let headerBytes = SegmentLayout.headerBytes
        guard handle.size >= headerBytes else {
            throw MigrationError.segment(file: storage.display(path), message: "truncated: \(handle.size) bytes, shorter than the \(headerBytes)-byte header")
        }
        let header = try await handle.read(at: 0, count: Int(headerBytes))
        let declared = header.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        let held = handle.size - headerBytes
        guard declared == UInt64(held) else {
            let verdict = declared > UInt64(held) ? "truncated" : "has trailing bytes"
            throw MigrationError.segment(file: storage.display(path), message: "\(verdict): the header says \(declared) payload bytes but the file holds \(held)")
        }
        return Int64(declared)
    }
}
