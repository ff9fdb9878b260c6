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
    /// The target Milvus 2.x server refused, failed or disagrees; `TargetFailure.kind` says how.
    case target(TargetFailure)
    /// Segments of a job (dump, load, start) failed; what finished is recorded. `first` is the
    /// first failure, of segment `unit`.
    indirect case unitsFailed(job: String, failed: Int, unit: String, first: MigrationError)
    /// An error no layer translated (a defect to report): `context` says where it surfaced.
    case unexpected(context: String, message: String)
    /// Stopped by the user (Ctrl-C); the journal is consistent and a rerun continues.
    case interrupted
    /// An object-storage request failed: `location` is `s3://bucket/key`; `code` is the S3 error
    /// code the server answered (`NoSuchUpload`, `AccessDenied`, …), for code to switch on, nil
    /// when it gave none (no answer, a bare status, a check of this tool's own).
    case storage(location: String, operation: String, message: String, code: String? = nil)
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
        case .target(let failure):
            return failure.description
        case .unitsFailed(let job, let failed, let unit, let first):
            return "\(job): \(failed) segment\(failed == 1 ? "" : "s") failed; what finished is recorded and a rerun continues from there. First (segment \(unit)): \(first.description)"
        case .unexpected(let context, let message):
            return "\(context): unexpected error: \(message)"
        case .interrupted:
            return "interrupted; everything finished so far is recorded in the journal and a rerun continues from there"
        case .storage(let location, let operation, let message, _):
            return "\(operation) \(location): \(message)"
        case .journalTransition(let segment, let phase, let event):
            return "segment \(segment): the journal does not allow '\(event)' in phase \(phase) (its rows may already be in Milvus); nothing was changed"
        }
    }
}

extension MigrationError {
    /// A target failure of `kind`: `subject` names the server, collection, partition or segment.
    public static func target(_ kind: TargetFailure.Kind, subject: String, message: String, serverReason: String? = nil) -> MigrationError {
        .target(TargetFailure(kind: kind, subject: subject, message: message, serverReason: serverReason))
    }

    /// The target failure's kind when this is one.
    public var targetKind: TargetFailure.Kind? {
        if case .target(let failure) = self { return failure.kind }
        return nil
    }

    /// The S3 error code of a storage failure, when the server answered one.
    public var storageCode: String? {
        if case .storage(_, _, _, let code) = self { return code }
        return nil
    }
}

/// How the target failed, for code to switch on (never on message text), with the one-sentence
/// message for the user. Like `HTTPClientError`, `Kind` is a struct: new kinds do not break callers.
public struct TargetFailure: Sendable, Equatable, CustomStringConvertible {
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Nothing answers at the endpoint (refused, reset, name not resolved).
        public static let unreachable = Kind("unreachable")
        /// Bad or missing credentials, or no permission.
        public static let authentication = Kind("authentication")
        /// A TLS mismatch between client and server (see `MilvusTLSProblem`), or TLS files
        /// (`tls.caFile`, `certFile`, `keyFile`) the client cannot use.
        public static let tls = Kind("tls")
        /// The client could not be set up from its configuration; nothing was sent.
        public static let configuration = Kind("configuration")
        /// The configured database does not exist.
        public static let databaseMissing = Kind("databaseMissing")
        /// The collection exists and `onExisting: fail` forbids touching it.
        public static let collectionExists = Kind("collectionExists")
        /// A collection the job needs (created or imported into before) is gone.
        public static let collectionMissing = Kind("collectionMissing")
        /// The existing collection's fields differ from what the migration needs.
        public static let schemaMismatch = Kind("schemaMismatch")
        /// The collection is not loaded, so its rows cannot be read.
        public static let notLoaded = Kind("notLoaded")
        /// An import task failed; `serverReason` holds the server's reason.
        public static let importFailed = Kind("importFailed")
        /// An import task's outcome is not known and the row counts cannot decide it.
        public static let importUndecided = Kind("importUndecided")
        /// A wait (import, flush, index, load, RPC deadline) ran out.
        public static let timedOut = Kind("timedOut")
        /// Milvus's rows or row counts differ from the source's live rows.
        public static let mismatch = Kind("mismatch")
        /// The server refuses for now and asks to come back later (Milvus 2.4+: "number of jobs has
        /// reached the limit", code 2100): nothing was created, so the request may be repeated.
        public static let busy = Kind("busy")
        /// The server refused a request (any other non-success status); `serverReason` says why.
        public static let refused = Kind("refused")
        /// The call failed on its way with no answer from Milvus itself (gRPC UNKNOWN, INTERNAL,
        /// ABORTED, DATA_LOSS or CANCELLED, e.g. from a proxy or a reset stream): the request
        /// may or may not have reached the server, so what it did is not known.
        public static let outcomeUnknown = Kind("outcomeUnknown")
        /// The server's answer makes no sense (missing task id, inconsistent Query result).
        public static let badAnswer = Kind("badAnswer")
        /// The source data cannot be represented at the target (e.g. an unknown metric).
        public static let unsupported = Kind("unsupported")
    }

    public var kind: Kind
    /// What failed: `Milvus at <endpoint>`, `collection 'x'`, `segment c/p/s`, …
    public var subject: String
    public var message: String
    /// The server's own words, when it gave any.
    public var serverReason: String?

    public init(kind: Kind, subject: String, message: String, serverReason: String? = nil) {
        self.kind = kind
        self.subject = subject
        self.message = message
        self.serverReason = serverReason
    }

    public var description: String { "\(subject): \(message)" }
}

extension MigrationError: LocalizedError {
    public var errorDescription: String? { description }
}

/// The text of the current `errno`.
func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
