import Foundation
import Logging
import NIOCore

/// `target.mode: remote`: the NumPy files, `meta.json` and `journal.json` as objects under
/// `<outputDir>/migration/` in the bucket Milvus 2.x reads. Files stream straight into the bucket:
/// below one part size as a single PUT from one buffer, above it as a multipart upload with a few
/// parts in flight; nothing is written to local disk. An object becomes visible only on
/// `commit()` (PUT, or CompleteMultipartUpload), so a killed run leaves no half object under a
/// final key, only unfinished multipart uploads, which `removeLeftovers` aborts.
public struct S3StagingArea: StagingArea {
    public let client: S3Client
    /// Key prefix of the staging root, no leading or trailing `/` (`out/migration`).
    public let root: String
    public var checkBucket: Bool
    public var createBucket: Bool
    let logger = Logger(label: "milvus-migration.s3")

    /// `outputDir` as in the reference tool: a leading `/` is trimmed and `migration` appended.
    public init(client: S3Client, outputDir: String?, checkBucket: Bool = false, createBucket: Bool = false) {
        self.client = client
        self.root = S3StagingArea.rootKey(outputDir)
        self.checkBucket = checkBucket
        self.createBucket = createBucket
    }

    static func rootKey(_ outputDir: String?) -> String {
        let trimmed = (outputDir ?? "").split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
        return trimmed.isEmpty ? "migration" : "\(trimmed)/migration"
    }

    public var location: String { "s3://\(client.settings.bucket)/\(root)" }

    func key(_ path: String) -> String { "\(root)/\(path)" }

    public func prepare() async throws {
        try await client.ensureBucket(check: checkBucket, create: createBucket)
    }

    public func create(_ path: String, expectedSize: Int64) async throws -> any StagedFile {
        let partSize = S3StagingArea.partSize(for: expectedSize, configured: client.settings.partSize)
        if expectedSize < Int64(partSize) {
            return S3SingleObject(client: client, key: key(path), expectedSize: Int(expectedSize))
        }
        return S3MultipartObject(client: client, key: key(path), partSize: partSize, concurrency: client.settings.partConcurrency)
    }

    /// The configured part size, raised (to whole MiB) when the file would need more than
    /// 10,000 parts, S3's limit.
    static func partSize(for size: Int64, configured: Int) -> Int {
        let needed = (size + 9_999) / 10_000
        guard needed > Int64(configured) else { return configured }
        return Int((needed + (1 << 20) - 1) >> 20) << 20
    }

    public func size(of path: String) async throws -> Int64? {
        try await client.headObject(key(path))?.size
    }

    public func readPrefix(_ path: String, count: Int) async throws -> [UInt8] {
        guard let bytes = try await client.getObject(key(path), range: 0..<Int64(count)) else {
            throw MigrationError.storage(location: client.display(key(path)), operation: "GetObject", message: "no such object")
        }
        return bytes
    }

    public func writeSmallFile(_ path: String, _ bytes: [UInt8]) async throws {
        // A single PUT replaces an object atomically: readers see the old or the new version.
        try await client.putObject(key(path), bytes, contentType: path.hasSuffix(".json") ? "application/json" : "application/octet-stream")
    }

    public func readSmallFile(_ path: String) async throws -> [UInt8]? {
        try await client.getObject(key(path))
    }

    /// Aborts the unfinished multipart uploads of the tool's own files (a killed run's half
    /// files): `.npy` keys under `<root>/tables/`, the only ones it uploads in parts. Other
    /// uploads, even under the root, are not touched. Another dump writing to the same prefix at
    /// the same time would lose its uploads too; as with a local folder, one dump per output
    /// prefix at a time.
    public func removeLeftovers(_ scope: LeftoverScope) async throws -> Int {
        let uploads = try await client.listMultipartUploads(prefix: "\(root)/tables/").filter { upload in
            guard upload.key.hasSuffix(".npy") else { return false }
            guard let folders = scope.folders else { return true }
            // One shard's segment folders only: another shard's upload is in progress.
            let relative = String(upload.key.dropFirst(root.count + 1))
            return folders.contains((relative as NSString).deletingLastPathComponent)
        }
        for upload in uploads {
            try await client.abortMultipartUpload(upload.key, uploadId: upload.uploadId)
        }
        return uploads.count
    }

    public func smallFiles(prefix: String) async throws -> [String] {
        let page = try await client.listObjects(prefix: "\(root)/\(prefix)", delimiter: "/")
        return page.objects.map { String($0.key.dropFirst(root.count + 1)) }.sorted()
    }

    /// DeleteObjects of the files' keys (deleting a missing key succeeds in S3); a key the
    /// server refuses is an error naming it.
    public func remove(_ paths: [String]) async throws {
        let refused = try await client.deleteObjects(paths.map(key))
        if let (key, message) = refused.first {
            throw MigrationError.storage(location: client.display(key), operation: "DeleteObjects", message: message)
        }
    }

    /// The object key: Milvus's Import takes keys inside its own bucket (`minio.bucketName`,
    /// which `target.remote.bucket` must name, README "Configuration"), without `s3://` and
    /// without the bucket name.
    public func importPath(_ path: String) -> String { key(path) }
}

/// A file below one part size: collected in one buffer of its known size, sent by a single PUT
/// on commit (retried; signed payload over plain HTTP).
final class S3SingleObject: StagedFile, @unchecked Sendable {
    let client: S3Client
    let key: String
    private var buffer: ByteBuffer?

    init(client: S3Client, key: String, expectedSize: Int) {
        self.client = client
        self.key = key
        buffer = ByteBufferAllocator().buffer(capacity: max(0, expectedSize))
    }

    func write(_ bytes: UnsafeRawBufferPointer) async throws {
        buffer!.writeBytes(bytes)
    }

    func commit() async throws {
        guard let bytes = buffer else { return }
        try await client.putObject(key, bytes)
        buffer = nil
    }

    func abort() async {
        buffer = nil
    }
}

/// A multipart upload fed by sequential writes: bytes fill one part buffer; a full part goes up
/// in its own task while the next fills, at most `concurrency` parts in flight. Memory is at most
/// (concurrency + 1) part buffers, whatever the file size.
final class S3MultipartObject: StagedFile, @unchecked Sendable {
    let client: S3Client
    let key: String
    let partSize: Int
    let concurrency: Int
    private var uploadId: String?
    private var current: ByteBuffer
    private var inFlight: [Task<String, Error>] = []
    private var etags: [String] = []
    private var nextPart = 1
    private var finished = false
    private var written: Int64 = 0

    init(client: S3Client, key: String, partSize: Int, concurrency: Int) {
        self.client = client
        self.key = key
        self.partSize = partSize
        self.concurrency = max(1, concurrency)
        current = ByteBufferAllocator().buffer(capacity: partSize)
    }

    func write(_ bytes: UnsafeRawBufferPointer) async throws {
        var offset = 0
        while offset < bytes.count {
            let n = min(bytes.count - offset, partSize - current.readableBytes)
            current.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
            offset += n
            written += Int64(n)
            if current.readableBytes == partSize { try await sendPart() }
        }
    }

    /// Hands the filled buffer to an upload task, first waiting for a free slot.
    private func sendPart() async throws {
        if uploadId == nil { uploadId = try await client.createMultipartUpload(key) }
        while inFlight.count >= concurrency {
            etags.append(try await inFlight.removeFirst().value)
        }
        let part = current
        let number = nextPart
        nextPart += 1
        current = ByteBuffer()
        let client = self.client, key = self.key, id = uploadId!
        inFlight.append(Task { try await client.uploadPart(key, uploadId: id, partNumber: number, part) })
        current = ByteBufferAllocator().buffer(capacity: partSize)
    }

    func commit() async throws {
        if current.readableBytes > 0 || nextPart == 1 { try await sendPart() }
        current = ByteBuffer()
        while !inFlight.isEmpty { etags.append(try await inFlight.removeFirst().value) }
        do {
            try await client.completeMultipartUpload(key, uploadId: uploadId!, etags: etags)
        } catch let error as MigrationError {
            // A retried Complete whose first attempt went through answers NoSuchUpload; the
            // object is then there, whole.
            guard error.storageCode == "NoSuchUpload",
                  try await client.headObject(key)?.size == written else { throw error }
        }
        finished = true
    }

    func abort() async {
        for task in inFlight { task.cancel() }
        for task in inFlight { _ = try? await task.value }
        inFlight = []
        current = ByteBuffer()
        if let uploadId, !finished {
            // Best effort: a leftover upload is aborted by the next run's removeLeftovers.
            try? await client.abortMultipartUpload(key, uploadId: uploadId)
        }
        finished = true
    }

    deinit {
        for task in inFlight { task.cancel() }
    }
}
