import Foundation

/// Reads staged files back and compares them with the checksums the journal recorded when they
/// were written, so a resumed run never imports a file that changed on disk (a flipped byte, a
/// torn write) since it was staged.
enum StagedFileCheck {
    static let chunkBytes = 1 << 20

    /// Prefix of the checksum that journals of earlier versions recorded for a file whose payload
    /// the kernel copied (the checksum covered the header only). Such files now get a full
    /// checksum by reading them back after the copy.
    static let headerOnlyChecksumPrefix = "header:"

    /// The `Checksum64` of a whole staged file, or nil when it does not exist. Nil too for a kind
    /// of staging area this check cannot read.
    static func checksum(_ path: String, staging: any StagingArea) async throws -> String? {
        guard let size = try await staging.size(of: path) else { return nil }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkBytes, alignment: 16)
        defer { buffer.deallocate() }
        var sum = Checksum64()
        var offset: Int64 = 0
        if let local = staging as? LocalStagingArea {
            let file = try LocalFile(path: local.full(path))
            while offset < file.size {
                try Task.checkCancellation()
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(Int64(chunkBytes), file.size - offset))])
                try await file.read(at: offset, into: chunk)
                sum.update(UnsafeRawBufferPointer(chunk))
                offset += Int64(chunk.count)
            }
        } else if let remote = staging as? S3StagingArea {
            while offset < size {
                try Task.checkCancellation()
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(Int64(chunkBytes), size - offset))])
                let n = try await remote.client.getObject(remote.key(path), at: offset, into: chunk)
                guard n == chunk.count else {
                    throw MigrationError.io(path: "\(staging.location)/\(path)", operation: "read back", reason: "got \(n) bytes at offset \(offset), expected \(chunk.count)")
                }
                sum.update(UnsafeRawBufferPointer(chunk))
                offset += Int64(n)
            }
        } else {
            return nil
        }
        return sum.hex
    }

    /// The first staged file of `record` that is missing, has another size or another content
    /// than when it was written, as the error to report; nil when all match.
    static func firstProblem(_ record: SegmentRecord, staging: any StagingArea) async throws -> MigrationError? {
        for file in record.files {
            let location = "\(staging.location)/\(file.path)"
            guard let size = try await staging.size(of: file.path) else {
                return .segment(file: location, message: "the staged file of segment \(record.key) is missing; rerun dump to stage it again")
            }
            guard size == file.bytes else {
                return .segment(file: location, message: "the staged file of segment \(record.key) has \(size) bytes, \(file.bytes) were written; rerun dump to stage it again")
            }
            if file.checksum.hasPrefix(StagedFileCheck.headerOnlyChecksumPrefix) {
                // Written before kernel copies got a full checksum: only the header is known.
                let header = try await staging.readPrefix(file.path, count: 4096)
                var sum = Checksum64()
                let headerSize = NumPyHeaderPrefix.size(header)
                header.prefix(headerSize).withUnsafeBytes { sum.update($0) }
                if "\(StagedFileCheck.headerOnlyChecksumPrefix)\(sum.hex)" != file.checksum {
                    return .segment(file: location, message: "the staged file of segment \(record.key) does not match the checksum recorded when it was written (its header changed); rerun dump to stage it again")
                }
                continue
            }
            guard let actual = try await checksum(file.path, staging: staging) else { continue }
            if actual != file.checksum {
                return .segment(file: location, message: "the staged file of segment \(record.key) does not match the checksum recorded when it was written (content changed on disk); rerun dump to stage it again")
            }
        }
        return nil
    }

    /// Throws the first problem of `record`'s staged files after recording it in the journal
    /// (`stageFailed`: the segment needs staging again, so the next dump rewrites it).
    static func requireIntact(_ record: SegmentRecord, staging: any StagingArea, journal: JobJournal) async throws {
        if let problem = try await firstProblem(record, staging: staging) {
            try await journal.apply(.stageFailed(reason: problem.description, fingerprint: record.sourceFingerprint), to: record.key)
            throw problem
        }
    }
}

/// The size of a NumPy header from its first bytes (magic, version, header length).
enum NumPyHeaderPrefix {
    static func size(_ bytes: [UInt8]) -> Int {
        guard bytes.count >= 10 else { return bytes.count }
        if bytes[6] == 1 { return min(bytes.count, 10 + (Int(bytes[8]) | (Int(bytes[9]) << 8))) }
        guard bytes.count >= 12 else { return bytes.count }
        return min(bytes.count, 12 + (Int(bytes[8]) | (Int(bytes[9]) << 8) | (Int(bytes[10]) << 16) | (Int(bytes[11]) << 24)))
    }
}
