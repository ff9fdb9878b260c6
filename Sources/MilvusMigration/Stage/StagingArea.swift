/// Where the NumPy files go: a local folder or the bucket Milvus 2.x reads. Paths are
/// relative to the staging root (`<outputDir>/migration`).
public protocol StagingArea: Sendable {
    /// For messages: `/out/migration`, `s3://bucket/prefix/migration`.
    var location: String { get }
    /// Starts a file that becomes visible under `path` only on `commit()`.
    func create(_ path: String, expectedSize: Int64) async throws -> any StagedFile
    /// The size of a committed file, or nil when it does not exist.
    func size(of path: String) async throws -> Int64?
    /// The first `count` bytes (or fewer) of a committed file.
    func readPrefix(_ path: String, count: Int) async throws -> [UInt8]
    /// Small files (journal, meta.json), replaced atomically.
    func writeSmallFile(_ path: String, _ bytes: [UInt8]) async throws
    func readSmallFile(_ path: String) async throws -> [UInt8]?
    /// Removes files a killed run left half-written, within `scope`; returns how many.
    func removeLeftovers(_ scope: LeftoverScope) async throws -> Int
    /// Names of the committed small files at the staging root that start with `prefix`
    /// (e.g. every `journal.*`), temporaries excluded.
    func smallFiles(prefix: String) async throws -> [String]
    /// Removes committed files (`target.cleanup`, after their import and the row counts); a
    /// file already gone is no error.
    func remove(_ paths: [String]) async throws
    /// The path string Milvus `Import` is given for a staged file.
    func importPath(_ path: String) -> String
    /// Checks (or creates) what the area needs before the first file: the bucket for a remote
    /// area with `checkBucket`/`createBucket`. Nothing for a local folder.
    func prepare() async throws
}

extension StagingArea {
    public func prepare() async throws {}

    /// Everything an unsharded run owns.
    public func removeLeftovers() async throws -> Int { try await removeLeftovers(.whole) }
}

/// What one run may clean up. Shards running at once in one staging area each clean only their
/// own segment folders and their own journal's temporaries: another shard's `.partial` file
/// or multipart upload is work in progress, not a leftover.
public struct LeftoverScope: Sendable {
    /// Small files at the root whose temporaries (`<name>.tmp-<pid>-<hex>`) may be removed.
    public var smallFiles: [String]
    /// Segment folders (`tables/...`) whose half-written `.npy` files may be removed; nil: all of `tables/`.
    public var folders: Set<String>?

    public init(smallFiles: [String], folders: Set<String>?) {
        self.smallFiles = smallFiles
        self.folders = folders
    }

    public static let whole = LeftoverScope(smallFiles: ["journal.json", "meta.json"], folders: nil)
}

/// A staged file being written. Bytes land under a temporary name; `commit` makes the file durable
/// and visible under its final name, `abort` removes it.
public protocol StagedFile: AnyObject, Sendable {
    func write(_ bytes: UnsafeRawBufferPointer) async throws
    /// Copies `count` bytes from a local file descriptor in the kernel (`copy_file_range`),
    /// without passing them through user space. Returns false when this staging area or the
    /// kernel cannot, and the caller copies through user space instead.
    func copyInKernel(from fd: Int32, offset: Int64, count: Int64) async throws -> Bool
    func commit() async throws
    func abort() async
}

extension StagedFile {
    /// Staging areas that are not local disks have no kernel copy path.
    public func copyInKernel(from fd: Int32, offset: Int64, count: Int64) async throws -> Bool { false }
}
