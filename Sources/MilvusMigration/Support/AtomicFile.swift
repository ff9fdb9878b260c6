import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Small files written so a reader sees either the old or the new content, never a half file:
/// write a temporary file beside the target, fsync it, rename it over the target, fsync the folder.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try createDirectory(directory.isEmpty ? "." : directory)
        let temporary = temporaryName(for: path)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw MigrationError.io(path: temporary, operation: "create", reason: errnoText()) }
        var ok = false
        defer {
            if !ok { unlink(temporary) }
        }
        do {
            defer { close(fd) }
            try bytes.withUnsafeBytes { try writeAll(fd, $0, path: temporary) }
            guard fsync(fd) == 0 else { throw MigrationError.io(path: temporary, operation: "fsync", reason: errnoText()) }
        }
        guard rename(temporary, path) == 0 else { throw MigrationError.io(path: path, operation: "rename into place", reason: errnoText()) }
        ok = true
        syncDirectory(directory.isEmpty ? "." : directory)
    }

    /// `<path>.tmp-<pid>-<8 hex digits>`: the name `write` gives its temporary file.
    static func temporaryName(for path: String) -> String {
        "\(path).tmp-\(getpid())-\(UUID().uuidString.prefix(8))"
    }

    /// Whether `name` is a temporary file `write` made for `target` (a file name, no folder):
    /// exactly `<target>.tmp-<digits>-<8 hex digits>`, nothing looser.
    static func isTemporary(_ name: String, of target: String) -> Bool {
        let prefix = "\(target).tmp-"
        guard name.hasPrefix(prefix) else { return false }
        let rest = name.dropFirst(prefix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard rest.count == 2, !rest[0].isEmpty, rest[0].allSatisfy({ $0.isASCII && $0.isNumber }),
              rest[1].count == 8, rest[1].allSatisfy({ $0.isASCII && $0.isHexDigit }) else { return false }
        return true
    }

    public static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw MigrationError.io(path: path, operation: "create folder", reason: (error as NSError).localizedDescription)
        }
    }

    public static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw MigrationError.io(path: path, operation: "write", reason: errnoText())
            }
            done += n
        }
    }

    /// Makes a rename durable.
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
