/// Streams 1.x segments into two NumPy files: `<idField>.npy` (int64, shape (N,)) and
/// `<vectorField>.npy` (float32 (N, dim) or uint8 (N, dim/8)), dropping deleted rows on the fly.
/// A group of segments (`dumper.worker.groupMB`) is written one segment after the other into the
/// same pair. Memory is two buffers of `bufferBytes`, whatever the segment sizes.
public struct SegmentConverter: Sendable {
    public var source: any SourceStorage
    public var staging: any StagingArea
    public var bufferBytes: Int

    public init(source: any SourceStorage, staging: any StagingArea, bufferBytes: Int) {
        self.source = source
        self.staging = staging
        self.bufferBytes = max(64 * 1024, bufferBytes)
    }

    /// Writes both files of the segments `layouts` (one, or a group), in that order, and returns
    /// their records. Nothing is left under a final name on failure.
    public func convert(_ layouts: [SegmentLayout], collection: SourceCollection, idPath: String, vectorPath: String,
                        progress: @Sendable (Int64) -> Void = { _ in }) async throws -> [StagedFileRecord] {
        let live = layouts.reduce(Int64(0)) { $0 + $1.liveRows }
        let ids = try await stream(layouts.map { ($0, $0.idsFile) }, rowBytes: 8,
                                   header: NumPyHeader.ids(rows: live), to: idPath, progress: progress)
        let vectors = try await stream(layouts.map { ($0, $0.vectorsFile) }, rowBytes: layouts.first?.bytesPerRow ?? 0,
                                       header: NumPyHeader.vectors(rows: live, kind: collection.vectorKind, dimension: collection.dimension),
                                       to: vectorPath, progress: progress)
        return [ids, vectors]
    }

    private func stream(_ sources: [(layout: SegmentLayout, path: String)], rowBytes: Int, header: NumPyHeader,
                        to path: String, progress: @Sendable (Int64) -> Void) async throws -> StagedFileRecord {
        let headerBytes = header.encoded()
        let staged = try await staging.create(path, expectedSize: Int64(headerBytes.count) + header.payloadBytes)
        do {
            var checksum = Checksum64()
            let headerBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: headerBytes.count, alignment: 8)
            defer { headerBuffer.deallocate() }
            headerBuffer.copyBytes(from: headerBytes)
            checksum.update(UnsafeRawBufferPointer(headerBuffer))
            try await staged.write(UnsafeRawBufferPointer(headerBuffer))
            var written: Int64 = 0
            var copiedInKernel = false
            for (layout, sourcePath) in sources {
                let file = try await source.openChecked(sourcePath, rows: layout.totalRows, rowBytes: rowBytes)
                let payload = layout.liveRows * Int64(rowBytes)
                // No deletions and both sides local: the kernel copies the payload unchanged.
                if layout.deleted.isEmpty, let fd = file.localDescriptor,
                   try await staged.copyInKernel(from: fd, offset: SegmentLayout.headerBytes, count: payload) {
                    copiedInKernel = true
                    written += payload
                    progress(payload)
                    continue
                }
                // Two buffers of bufferBytes: the chunk as read and its live rows packed.
                let reader = LiveRowReader(file: file, rowBytes: rowBytes, totalRows: layout.totalRows, deleted: layout.deleted,
                                           rowsPerChunk: max(1, bufferBytes / rowBytes))
                var segmentWritten: Int64 = 0
                while true {
                    try Task.checkCancellation()
                    guard let chunk = try await reader.next() else { break }
                    checksum.update(chunk.bytes)
                    try await staged.write(chunk.bytes)
                    segmentWritten += Int64(chunk.bytes.count)
                    progress(Int64(chunk.physicalRows * rowBytes))
                }
                guard segmentWritten == payload else {
                    throw MigrationError.segment(file: source.display(sourcePath), message: "wrote \(segmentWritten) payload bytes, expected \(payload)")
                }
                written += segmentWritten
            }
            guard written == header.payloadBytes else {
                throw MigrationError.segment(file: source.display(sources.last?.path ?? path), message: "wrote \(written) payload bytes, expected \(header.payloadBytes)")
            }
            try await staged.commit()
            if copiedInKernel {
                // Some payload never went through user space: read the committed file back (from
                // the page cache, it was just written) for a full checksum a resume can check.
                guard let full = try await StagedFileCheck.checksum(path, staging: staging) else {
                    throw MigrationError.io(path: "\(staging.location)/\(path)", operation: "read back", reason: "the file just written is missing")
                }
                return StagedFileRecord(path: path, bytes: Int64(headerBytes.count) + written, checksum: full)
            }
            return StagedFileRecord(path: path, bytes: Int64(headerBytes.count) + written, checksum: checksum.hex)
        } catch {
            await staged.abort()
            throw error
        }
    }
}
