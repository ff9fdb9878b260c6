import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A read-only local file used with `pread`; closed when the last reference goes away. Shared by
/// the source (a `SourceFile`), the local staging area and the staged-file checks.
public final class LocalFile: @unchecked Sendable {
    public let path: String
    public let size: Int64
    private let fd: Int32

    /// Opens a regular file (a symlink is followed to one). Anything else (a FIFO, a socket, a
    /// device, a folder) is refused with a `.io` error naming the path, without blocking: the kind
    /// is checked with `stat` before the open, and the open itself is non-blocking with an
    /// `fstat` after it, so a file swapped for a FIFO in between cannot block either.
    public init(path: String) throws {
        self.path = path
        var before = stat()
        guard stat(path, &before) == 0 else { throw MigrationError.io(path: path, operation: "open", reason: errnoText()) }
        guard (before.st_mode & S_IFMT) == S_IFREG else {
            throw MigrationError.io(path: path, operation: "open", reason: LocalFile.notRegular(before.st_mode))
        }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw MigrationError.io(path: path, operation: "open", reason: errnoText()) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = errnoText()
            Glibc.close(fd)
            throw MigrationError.io(path: path, operation: "stat", reason: reason)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            throw MigrationError.io(path: path, operation: "open", reason: LocalFile.notRegular(info.st_mode))
        }
        // O_NONBLOCK means nothing for a regular file; cleared all the same.
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        self.fd = fd
        self.size = Int64(info.st_size)
    }

    /// "not a regular file (a FIFO)": the reason for refusing a file of this kind.
    static func notRegular(_ mode: mode_t) -> String {
        let kind: String
        switch mode & S_IFMT {
        case S_IFIFO: kind = "a FIFO (named pipe)"
        case S_IFDIR: kind = "a folder"
        case S_IFSOCK: kind = "a socket"
        case S_IFCHR: kind = "a character device"
        case S_IFBLK: kind = "a block device"
        case S_IFLNK: kind = "a symbolic link"
        default: kind = "a special file"
        }
        return "not a regular file (it is \(kind)); only regular files are read"
    }

    public var localDescriptor: Int32? { fd }

    public func read(at offset: Int64, count: Int) async throws -> [UInt8] {
        try readSync(at: offset, count: count)
    }

    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) async throws {
        let got = try readFully(into: buffer, at: offset)
        guard got == buffer.count else {
            throw MigrationError.segment(file: path, message: "truncated: wanted \(buffer.count) bytes at offset \(offset), the file ends after \(offset + Int64(got))")
        }
    }

    public func readSync(at offset: Int64, count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = try buffer.withUnsafeMutableBytes { try readFully(into: $0, at: offset) }
        guard got == count else {
            throw MigrationError.segment(file: path, message: "truncated: wanted \(count) bytes at offset \(offset), the file ends after \(offset + Int64(got))")
        }
        return buffer
    }

    /// Reads until `buffer` is full or the file ends; returns the bytes read.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + Int64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                throw MigrationError.io(path: path, operation: "read", reason: errnoText())
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    deinit {
        Glibc.close(fd)
    }
}
