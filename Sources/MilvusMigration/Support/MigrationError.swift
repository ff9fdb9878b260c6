import Foundation

/// Every failure the migration reports. Each case carries the context a user needs to act:
/// the config key, the meta source, the segment file, the collection, or the path and errno.
/// `description` is one sentence meant for stderr; it never contains a secret.
public enum MigrationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Bad command-line usage (unknown collection in `--col`, conflicting flags, ...).
    case usage(String)
    /// A problem with the configuration file: `key` is the dotted key path (`meta.sqliteFile`).
    case config(file: String, key: String, message: String)
    /// The 1.x meta (SQLite file, MySQL database or meta.json) cannot be read or is inconsistent.
    case meta(source: String, message: String)
    /// A 1.x segment file is missing, truncated or disagrees with the meta.
    case segment(file: String, message: String)
    /// A file system operation failed.
    case io(path: String, operation: String, reason: String)
    /// The plan found problems; nothing was moved.
    case planFailed(problems: Int, firstProblem: String)
    /// A feature that belongs to a later milestone.
    case notBuilt(String)
    /// Anything about the target Milvus 2.x server or an import job.
    case target(subject: String, message: String)
    /// Stopped by the user (Ctrl-C); the journal is consistent and a rerun continues.
    case interrupted
    /// An object-storage request failed: `location` is `s3://bucket/key`.
    case storage(location: String, operation: String, message: String)
    /// A job tried to move a segment's journal record through a transition the state machine
    /// forbids (e.g. re-staging a segment whose rows may already be in Milvus); nothing changed.
    case journalTransition(segment: String, phase: String, event: String)

    public var description: String {
        switch self {
        case .usage(let message):
            return message
        case .config(let file, let key, let message):
            return key.isEmpty ? "\(file): \(message)" : "\(file): key '\(key)': \(message)"
        case .meta(let source, let message):
            return "meta \(source): \(message)"
        case .segment(let file, let message):
            return "segment file \(file): \(message)"
        case .io(let path, let operation, let reason):
            return "cannot \(operation) \(path): \(reason)"
        case .planFailed(let problems, let first):
            return "the plan found \(problems) problem\(problems == 1 ? "" : "s"); nothing was migrated. First: \(first)"
        case .notBuilt(let what):
            return "\(what) is not built yet in this version of milvus-migration"
        case .target(let subject, let message):
            return "\(subject): \(message)"
        case .interrupted:
            return "interrupted; everything finished so far is recorded in the journal and a rerun continues from there"
        case .storage(let location, let operation, let message):
            return "\(operation) \(location): \(message)"
        case .journalTransition(let segment, let phase, let event):
            return "segment \(segment): the journal does not allow '\(event)' in phase \(phase) (its rows may already be in Milvus); nothing was changed"
        }
    }
}

extension MigrationError: LocalizedError {
    public var errorDescription: String? { description }
}

/// The text of the current `errno`.
func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
