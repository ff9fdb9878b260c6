import Foundation
import MilvusMigration

/// What a job of the server does: the CLI command of the same name.
public enum JobKind: String, Codable, Sendable, CaseIterable {
    case dump, load, start

    /// Job ids carry the reference tool's prefixes: `dump_`, `load_`, `start_`.
    var idPrefix: String { rawValue + "_" }

    /// The library command a job of this kind runs (and whose configuration needs it checks).
    var command: MigrationCommands.Command {
        switch self {
        case .dump: return .dump
        case .load: return .load
        case .start: return .start
        }
    }
}

/// A job's life, with the reference tool's names (`jobStatus`):
///
///     init ──run──▶ running ──▶ success
///       │              │
///       └──cancel──────┴──────▶ fail (an error, a cancel, or a failed resume)
///
/// A server restart finds the jobs it left in `init` or `running` and runs them again: the
/// journal makes the rerun resume, so nothing is staged or imported twice.
public enum JobState: String, Codable, Sendable {
    case `init`, running, success, fail

    public var isFinished: Bool { self == .success || self == .fail }
}

/// One job as the server keeps it (in memory, and as `<state dir>/jobs/<id>.json`).
public struct JobRecord: Codable, Sendable {
    public var jobId: String
    public var kind: JobKind
    /// The migration.yaml the job runs with (absolute).
    public var configPath: String
    /// `collectionNames` of the request (all when empty).
    public var collections: [String]
    public var requestId: String?
    public var status: JobState
    /// "success", the error in one sentence, or "" while running.
    public var msg: String
    public var created: Date
    public var started: Date?
    public var finished: Date?
    /// The staging area (journal) the job works on: one job at a time per staging area.
    public var stagingLocation: String
    /// How often a server restart resumed it.
    public var resumes: Int
    /// The command's summary (the CLI's output) once it succeeded.
    public var summary: String?
    /// The last status seen (kept so a finished job shows its figures after a restart).
    public var snapshot: JobSnapshot?
}

/// `get_job`'s `data`: the reference tool's JobInfo fields first, then what it lacks.
public struct JobInfo: Codable, Sendable {
    public var jobId: String
    public var jobStatus: JobState
    /// Percent of the units done (0–100).
    public var jobProcess: Int
    public var msg: String
    public var totalTasks: Int
    public var finishTasks: Int
    public var kind: JobKind
    public var requestId: String?
    public var collectionNames: [String]
    public var configPath: String
    public var stagingLocation: String
    public var created: Date
    public var started: Date?
    public var finished: Date?
    public var resumes: Int
    public var summary: String?
    public var detail: JobSnapshot?

    init(_ record: JobRecord, live: JobSnapshot?) {
        let detail = live ?? record.snapshot
        jobId = record.jobId
        jobStatus = record.status
        totalTasks = detail?.totalUnits ?? 0
        finishTasks = detail?.doneUnits ?? 0
        if record.status == .success {
            jobProcess = 100
        } else if let detail, detail.totalUnits > 0 {
            jobProcess = min(99, 100 * detail.doneUnits / detail.totalUnits)
        } else {
            jobProcess = 0
        }
        msg = record.msg
        kind = record.kind
        requestId = record.requestId
        collectionNames = record.collections
        configPath = record.configPath
        stagingLocation = record.stagingLocation
        created = record.created
        started = record.started
        finished = record.finished
        resumes = record.resumes
        summary = record.summary
        self.detail = detail
    }
}

enum JobID {
    static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

    /// The reference tool's shape: a prefix and 21 characters of [0-9a-zA-Z].
    static func make(_ kind: JobKind) -> String {
        var generator = SystemRandomNumberGenerator()
        return kind.idPrefix + String((0..<21).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }

    /// Only ids of that shape name a state file (no path tricks through `jobId`).
    static func isWellFormed(_ id: String) -> Bool {
        guard let kind = JobKind.allCases.first(where: { id.hasPrefix($0.idPrefix) }) else { return false }
        let rest = id.dropFirst(kind.idPrefix.count)
        return rest.count == 21 && rest.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }
}
