import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The kernel's boot id (`/proc/sys/kernel/random/boot_id`), a random UUID drawn at every boot.
/// Staged files are not fsynced (`dumper.worker.fsync: false`): within one boot the page cache
/// holds exactly what was written, whether or not it reached the disk yet, so files staged in
/// this boot are as written. A crash or power loss can only be followed by another boot, and
/// then a staged file may be missing, short or hold stale blocks: the journal records the boot
/// each segment's files were staged in, and a run in another boot reads them back whole before
/// trusting them.
public enum BootId {
    /// This boot's id; nil where the kernel does not tell it (then every kept file is checked).
    public static let current: String? = read("/proc/sys/kernel/random/boot_id")

    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// Whether files recorded as staged in boot `recorded` may not be what was written: staged
    /// in another boot, or in an unknown one (journals written before the boot was recorded).
    public static func isUnverified(_ recorded: String?, current: String? = BootId.current) -> Bool {
        guard let recorded, let current else { return true }
        return recorded != current
    }
}
