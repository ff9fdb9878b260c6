import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A staging folder on a local disk. Files are written as `<name>.partial` and renamed into
/// place. They are not fsynced unless `syncFiles` (`dumper.worker.fsync`): an fsync per file
/// makes the dump wait for the disk, and the journal (which is fsynced) records the boot each
/// file was staged in, so a run after a crash reads the files back and checks them before any
/// import (`StageStep`, `StagedFileCheck`).
public struct LocalStagingArea: StagingArea {
    public let root: String
    /// fsync each staged file and its folder on commit.
    public var syncFiles: Bool
    static let partialSuffix = ".partial"

    public init(root: String, syncFiles: Bool = false) {
        self.root = (root as NSString).standardizingPath
        self.syncFiles = syncFiles
    }

    public var location: String { root }

    func full(_ path: String) -> String { (root as NSString).appendingPathComponent(path) }

    public func create(_ path: String, expectedSize: Int64) async throws -> any StagedFile {
        try LocalStagedFile(final: full(path), sync: syncFiles)
    }

    public func size(of path: String) async throws -> Int64? {
        var info = stat()
        guard stat(full(path), &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    public func readPrefix(_ path: String, count: Int) async throws -> [UInt8] {
        let file = try LocalFile(path: full(path))
        return try file.readSync(at: 0, count: Int(min(Int64(count), file.size)))
    }

    public func writeSmallFile(_ path: String, _ bytes: [UInt8]) async throws {
        try AtomicFile.write(bytes, to: full(path))
    }

    public func readSmallFile(_ path: String) async throws -> [UInt8]? {
        var info = stat()
        guard lstat(full(path), &info) == 0 || errno != ENOENT else { return nil }
        // LocalFile refuses a FIFO or a folder under this name without blocking.
        let file = try LocalFile(path: full(path))
        return try file.readSync(at: 0, count: Int(file.size))
    }

    public func smallFiles(prefix: String) async throws -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { $0.hasPrefix(prefix) && !$0.contains(".tmp-") && !$0.hasSuffix(LocalStagingArea.partialSuffix) }.sorted()
    }

    /// Removes what an interrupted run of this tool left, and nothing else: `<file>.npy.partial`
    /// under `tables/` (the folders the dump owns), and the temporaries of `journal.json` and
    /// `meta.json` at the root (exactly `<name>.tmp-<pid>-<8 hex>`). Only regular files are
    /// removed; symbolic links are neither followed nor removed. Other files (a user's
    /// `backup.tmp-keep`, anything outside `tables/`) are left alone.
    public func removeLeftovers(_ scope: LeftoverScope) async throws -> Int {
        var removed = 0
        func isRegular(_ path: String) -> Bool {
            var info = stat()
            return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        where scope.smallFiles.contains(where: { AtomicFile.isTemporary(name, of: $0) }) && isRegular(full(name)) {
            if unlink(full(name)) == 0 { removed += 1 }
        }
        if let only = scope.folders {
            // One shard's segment folders: only the files directly in them.
            for folder in only.sorted() {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: full(folder))) ?? []
                where name.hasSuffix(".npy\(LocalStagingArea.partialSuffix)") && isRegular(full("\(folder)/\(name)")) {
                    if unlink(full("\(folder)/\(name)")) == 0 { removed += 1 }
                }
            }
            return removed
        }
        // Depth-first through real folders only.
        var folders = ["tables"]
        while let folder = folders.popLast() {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: full(folder))) ?? [] {
                let relative = "\(folder)/\(name)"
                var info = stat()
                guard lstat(full(relative), &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    folders.append(relative)
                case S_IFREG where name.hasSuffix(".npy\(LocalStagingArea.partialSuffix)"):
                    if unlink(full(relative)) == 0 { removed += 1 }
                default:
                    break
                }
            }
        }
        return removed
    }

    public func importPath(_ path: String) -> String { full(path) }

    /// Unlinks the files, then their folder when that is left empty (a segment's own folder;
    /// rmdir(2) keeps a folder that still holds anything). Parent folders are left: another
    /// segment may be staged into them at the same moment.
    public func remove(_ paths: [String]) async throws {
        var folders: Set<String> = []
        for path in paths {
            guard unlink(full(path)) == 0 || errno == ENOENT else {
                throw MigrationError.io(path: full(path), operation: "remove", reason: errnoText())
            }
            folders.insert((path as NSString).deletingLastPathComponent)
        }
        for folder in folders where folder.hasPrefix("tables/") { rmdir(full(folder)) }
    }
}

/// One `.partial` file, renamed into place on commit (fsynced first with `sync`).
final class LocalStagedFile: StagedFile, @unchecked Sendable {
    let final: String
    let temporary: String
    let sync: Bool
    private var fd: Int32

    init(final: String, sync: Bool) throws {
        self.final = final
        self.sync = sync
        temporary = final + LocalStagingArea.partialSuffix
        try AtomicFile.createDirectory((final as NSString).deletingLastPathComponent)
        // A leftover under this name (ours: `.npy.partial` in the dump's folders) is replaced,
        // never followed or opened: a symlink or a FIFO there could neither redirect the write
        // nor block it.
        unlink(temporary)
        fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw MigrationError.io(path: temporary, operation: "create", reason: errnoText()) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) async throws {
        try AtomicFile.writeAll(fd, bytes, path: temporary)
    }

    func copyInKernel(from source: Int32, offset: Int64, count: Int64) async throws -> Bool {
        var inOffset = off_t(offset)
        var remaining = count
        while remaining > 0 {
            try Task.checkCancellation()
            guard let copyFileRange = KernelCopy.copyFileRange else { return false }
            let n = copyFileRange(source, &inOffset, fd, nil, Int(min(remaining, 1 << 30)), 0)
            if n < 0 {
                if errno == EINTR { continue }
                // Not supported here (old kernel, cross-device on some kernels): fall back, unless
                // bytes were already copied.
                if remaining == count && [ENOSYS, EXDEV, EINVAL, EOPNOTSUPP].contains(errno) { return false }
                throw MigrationError.io(path: temporary, operation: "copy into", reason: errnoText())
            }
            if n == 0 {
                throw MigrationError.io(path: temporary, operation: "copy into", reason: "the source ended \(remaining) bytes early")
            }
            remaining -= Int64(n)
        }
        return true
    }

    func commit() async throws {
        if sync {
            guard fsync(fd) == 0 else { throw MigrationError.io(path: temporary, operation: "fsync", reason: errnoText()) }
        }
        // close(2) can report a deferred write error (NFS, some FUSE file systems).
        let closed = close(fd)
        fd = -1
        guard closed == 0 else { throw MigrationError.io(path: temporary, operation: "close", reason: errnoText()) }
        guard rename(temporary, final) == 0 else { throw MigrationError.io(path: final, operation: "rename into place", reason: errnoText()) }
        if sync { AtomicFile.syncDirectory((final as NSString).deletingLastPathComponent) }
    }

    func abort() async {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        unlink(temporary)
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(temporary)
        }
    }
}

/// `copy_file_range(2)`, looked up at run time (glibc ≥ 2.27 exports it; Swift's Glibc module
/// does not declare it without _GNU_SOURCE). Nil when unavailable: callers copy in user space.
enum KernelCopy {
    typealias Function = @convention(c) (Int32, UnsafeMutablePointer<off_t>?, Int32, UnsafeMutablePointer<off_t>?, Int, UInt32) -> Int
    static let copyFileRange: Function? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "copy_file_range") else { return nil }
        return unsafeBitCast(symbol, to: Function.self)
    }()
}
