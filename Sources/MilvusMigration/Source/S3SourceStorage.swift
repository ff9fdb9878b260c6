import Foundation

/// `source.mode: remote`: the 1.x `tables/` folder as objects under `source.remote.tablesDir` in a
/// bucket. Folders are listed with ListObjectsV2 (delimiter `/`); files are read with ranged GETs,
/// the next range fetched ahead while the caller works on the current one.
public struct S3SourceStorage: SourceStorage {
    public let client: S3Client
    /// Key prefix of `tables/`, no leading or trailing `/` (may be empty: the bucket's top).
    public let root: String
    public var checkBucket: Bool

    /// A leading `/` of `tablesDir` is trimmed (S3 keys do not start with one).
    public init(client: S3Client, tablesDir: String?, checkBucket: Bool = false) {
        self.client = client
        root = (tablesDir ?? "").split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
        self.checkBucket = checkBucket
    }

    func key(_ path: String) -> String {
        let clean = path.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
        return root.isEmpty ? clean : (clean.isEmpty ? root : "\(root)/\(clean)")
    }

    public var location: String { "s3://\(client.settings.bucket)/\(root)" }

    public func display(_ path: String) -> String { client.display(key(path)) }

    public func prepare() async throws {
        try await client.ensureBucket(check: checkBucket, create: false)
    }

    public func list(_ folder: String) async throws -> [String]? {
        let base = key(folder)
        let prefix = base.isEmpty ? "" : "\(base)/"
        let page = try await client.listObjects(prefix: prefix, delimiter: "/")
        var names = page.objects.map { String($0.key.dropFirst(prefix.count)) }
        names += page.prefixes.map { String($0.dropFirst(prefix.count).dropLast()) }
        names = names.filter { !$0.isEmpty }
        return names.isEmpty ? nil : names.sorted()
    }

    public func open(_ path: String) async throws -> any SourceFile {
        guard let info = try await client.headObject(key(path)) else {
            throw MigrationError.io(path: display(path), operation: "open", reason: "no such object")
        }
        return S3SourceFile(client: client, key: key(path), size: info.size)
    }
}

/// One object read with ranged GETs. After each read of n bytes at offset o, the range
/// [o+n, o+2n) is fetched in the background, so a sequential reader waits for the network once.
/// Memory: the caller's buffer plus one prefetched range.
public final class S3SourceFile: SourceFile, @unchecked Sendable {
    let client: S3Client
    let key: String
    public let size: Int64
    private let lock = NSLock()
    private var prefetch: (offset: Int64, count: Int, task: Task<[UInt8]?, Error>)?

    init(client: S3Client, key: String, size: Int64) {
        self.client = client
        self.key = key
        self.size = size
    }

    public var localDescriptor: Int32? { nil }

    public func read(at offset: Int64, count: Int) async throws -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
        defer { buffer.deallocate() }
        try await read(at: offset, into: buffer)
        return Array(UnsafeRawBufferPointer(buffer))
    }

    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) async throws {
        let count = buffer.count
        guard count > 0 else { return }
        guard offset + Int64(count) <= size else {
            throw MigrationError.segment(file: client.display(key), message: "truncated: wanted \(count) bytes at offset \(offset), the object ends after \(size)")
        }
        let ahead: Task<[UInt8]?, Error>? = lock.withLock {
            defer { prefetch = nil }
            if let p = prefetch, p.offset == offset, p.count == count { return p.task }
            prefetch?.task.cancel()
            return nil
        }
        var got: Int
        // A failed read-ahead is redone directly (which reports a wrong answer as such).
        if let ahead, let bytes = try? await ahead.value {
            // Never trust the answer's length: copy only what fits, and only when it is exactly the range.
            guard bytes.count == count else {
                throw MigrationError.storage(location: client.display(key), operation: "GetObject", message:
                    "the answer to a read of \(count) bytes at offset \(offset) carried \(bytes.count) bytes")
            }
            bytes.withUnsafeBytes { src in buffer.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: count) }
            got = count
        } else {
            got = try await client.getObject(key, at: offset, into: buffer)
        }
        guard got == count else {
            throw MigrationError.segment(file: client.display(key), message: "truncated: wanted \(count) bytes at offset \(offset), got \(got)")
        }
        let next = offset + Int64(count)
        if next < size {
            let n = Int(min(Int64(count), size - next))
            let client = self.client, key = self.key
            let task = Task { try await client.getObject(key, range: next..<(next + Int64(n))) }
            lock.withLock { prefetch = (next, n, task) }
        }
    }

    deinit {
        prefetch?.task.cancel()
    }
}
