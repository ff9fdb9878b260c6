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
    /// Source bytes read by a dump: both files with their headers.
    public var sourceBytes: Int64

    public var liveRows: Int64 { totalRows - Int64(deleted.count) }
}

/// Finds a segment's raw files by listing its folder (as 1.x does) and validates them:
/// header against file size, payload against the dimension, `.rv` rows against `.uid` rows,
/// live rows against the meta's `row_count` (milvus1x-format.md §2, §4).
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
        let raw = DeletedOffsets.decode(try await deletedFile.read(at: 8, count: Int(deletedBytes)))
        let deleted = DeletedOffsets(raw: raw, rows: rows)
        if !deleted.outOfRange.isEmpty {
            warnings.append(.warning(storage.display(deletedPath), "\(deleted.outOfRange.count) offset(s) outside 0..<\(rows) ignored (first: \(deleted.outOfRange[0]))"))
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
            sourceBytes: vectorBytes + idBytes + 16)
        return (layout, warnings)
    }

    private func exactlyOne(_ matches: [String], kind: String, folder: String) throws -> String {
        guard matches.count == 1 else {
            let message = matches.isEmpty ? "no \(kind) file in the segment folder" : "\(matches.count) \(kind) files (\(matches.joined(separator: ", "))); expected exactly one"
            throw MigrationError.segment(file: storage.display(folder), message: message)
        }
        return matches[0]
    }

    /// The payload length from the 8-byte header, checked against the file size.
    private func payloadLength(_ path: String, file: (any SourceFile)? = nil) async throws -> Int64 {
        let handle: any SourceFile
        if let file { handle = file } else { handle = try await storage.open(path) }
        guard handle.size >= 8 else {
            throw MigrationError.segment(file: storage.display(path), message: "truncated: \(handle.size) bytes, shorter than the 8-byte header")
        }
        let header = try await handle.read(at: 0, count: 8)
        let declared = header.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard declared == UInt64(handle.size - 8) else {
            let verdict = declared > UInt64(handle.size - 8) ? "truncated" : "has trailing bytes"
            throw MigrationError.segment(file: storage.display(path), message: "\(verdict): the header says \(declared) payload bytes but the file holds \(handle.size - 8)")
        }
        return Int64(declared)
    }
}
