import Foundation

/// Where the 1.x `tables/` folder lives: a local folder, or a bucket prefix. Paths are
/// relative to the tables folder (`<table_id>/<segment_id>/<file>`).
public protocol SourceStorage: Sendable {
    /// For messages: `local folder /x/tables`, `s3://bucket/prefix`.
    var location: String { get }
    /// The file names directly inside `folder`, or nil when the folder does not exist.
    func list(_ folder: String) async throws -> [String]?
    /// Opens a file for positional reads.
    func open(_ path: String) async throws -> any SourceFile
    /// Full path for messages.
    func display(_ path: String) -> String
    /// Checks what the storage needs before the first read (the bucket, with `checkBucket`).
    func prepare() async throws
}

extension SourceStorage {
    public func prepare() async throws {}

    /// Opens a segment file (`.uid`, `.rv`/`.rb`: a header then `rows × rowBytes`) that the plan
    /// checked, and makes sure it still has that size (it may have changed since).
    public func openChecked(_ path: String, rows: Int64, rowBytes: Int) async throws -> any SourceFile {
        let file = try await open(path)
        let expected = SegmentLayout.offset(ofRow: rows, rowBytes: rowBytes)
        guard file.size == expected else {
            throw MigrationError.segment(file: display(path), message: "changed since it was checked: \(file.size) bytes, expected \(expected); rerun plan")
        }
        return file
    }
}

/// A file opened for positional reads.
public protocol SourceFile: Sendable {
    var size: Int64 { get }
    /// Reads exactly `count` bytes at `offset` or throws naming the file (a short read means truncation).
    func read(at offset: Int64, count: Int) async throws -> [UInt8]
    /// Fills `buffer` from `offset`, or throws when the file ends first (truncation).
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) async throws
    /// The local file descriptor, when the file is on a local disk (enables the kernel copy path).
    var localDescriptor: Int32? { get }
}

/// A local `tables/` folder.
public struct LocalSourceStorage: SourceStorage {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public var location: String { "local folder \(root)" }

    public func display(_ path: String) -> String { (root as NSString).appendingPathComponent(path) }

    public func list(_ folder: String) async throws -> [String]? {
        let full = display(folder)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), isDirectory.boolValue else { return nil }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: full).sorted()
        } catch {
            throw MigrationError.io(path: full, operation: "list", reason: (error as NSError).localizedDescription)
        }
    }

    public func open(_ path: String) async throws -> any SourceFile {
        try LocalFile(path: display(path))
    }
}

/// A local file as a source file (`LocalFile` lives in Storage/, shared with the staging area).
extension LocalFile: SourceFile {}
