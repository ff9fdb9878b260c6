import CoreMetrics
import Foundation

/// Every metric the library reports, in one place: names, labels and the helpers the steps call.
/// They go through swift-metrics' API only, so they cost nothing and change nothing until a
/// process bootstraps a backend (`milvus-migration … --metrics-address` bootstraps Prometheus;
/// tests and library users that do not stay unaffected).
///
/// Labels are bounded: a collection (of the plan), a phase, a step, a cause or an error kind,
/// never a segment id. Collections are the 1.x names, as in the reports.
public enum MigrationMetrics {
    public static let prefix = "milvus_migration_"

    /// The metric names (without labels), as exported.
    public enum Name {
        public static let stagedRows = prefix + "staged_rows_total"
        public static let stagedBytes = prefix + "staged_bytes_total"
        public static let importedRows = prefix + "imported_rows_total"
        public static let importedBytes = prefix + "imported_bytes_total"
        public static let insertedRows = prefix + "inserted_rows_total"
        public static let insertedBytes = prefix + "inserted_bytes_total"
        public static let units = prefix + "units"
        public static let unitsSkipped = prefix + "units_skipped_total"
        public static let importDuration = prefix + "import_task_duration_seconds"
        public static let retries = prefix + "retries_total"
        public static let errors = prefix + "errors_total"

        public static let all = [stagedRows, stagedBytes, importedRows, importedBytes, insertedRows, insertedBytes,
                                 units, unitsSkipped, importDuration, retries, errors]
    }

    /// Label names.
    public enum Label {
        public static let collection = "collection"
        public static let phase = "phase"
        public static let step = "step"
        public static let outcome = "outcome"
        public static let service = "service"
        public static let cause = "cause"
        public static let command = "command"
        public static let scope = "scope"
        public static let kind = "kind"
    }

    // MARK: rows and bytes

    /// A unit's two NumPy files were written: its live rows and the files' bytes.
    static func staged(collection: String, rows: Int64, bytes: Int64) {
        add(Name.stagedRows, rows, [(Label.collection, collection)])
        add(Name.stagedBytes, bytes, [(Label.collection, collection)])
    }

    /// An import task completed: the unit's live rows and the bytes of its staged files.
    static func imported(collection: String, rows: Int64, bytes: Int64) {
        add(Name.importedRows, rows, [(Label.collection, collection)])
        add(Name.importedBytes, bytes, [(Label.collection, collection)])
    }

    /// An `Insert` batch was acknowledged: its rows and the bytes of its ids and vectors.
    static func inserted(collection: String, rows: Int64, bytes: Int64) {
        add(Name.insertedRows, rows, [(Label.collection, collection)])
        add(Name.insertedBytes, bytes, [(Label.collection, collection)])
    }

    // MARK: units

    /// How many of a run's units of `collection` are in `phase` (a `SegmentPhase`; the journal
    /// keeps it current).
    static func units(collection: String, phase: String, count: Int) {
        Gauge(label: Name.units, dimensions: [(Label.collection, collection), (Label.phase, phase)]).record(count)
    }

    /// Where a unit found done by an earlier run was passed over.
    enum SkippedStep: String {
        /// Its staged files were kept (found intact), or its rows are already in Milvus.
        case stage
        /// Its rows are already in Milvus (imported or inserted by an earlier run).
        case load
    }

    static func unitSkipped(_ step: SkippedStep, collection: String) {
        add(Name.unitsSkipped, 1, [(Label.collection, collection), (Label.step, step.rawValue)])
    }

    // MARK: import tasks

    /// From the `Import` call to the task's final state; `completed` is false for a failed task.
    static func importTask(seconds: Double, completed: Bool) {
        Timer(label: Name.importDuration, dimensions: [(Label.outcome, completed ? "completed" : "failed")])
            .recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }

    // MARK: retries

    /// Who was asked again.
    enum Service: String {
        case milvus
        case s3
    }

    /// One request sent again after `cause` (a short fixed word: `unavailable`, `busy`,
    /// `throttled`, `server_error`, `timeout`, …).
    static func retry(_ service: Service, cause: String) {
        add(Name.retries, 1, [(Label.service, service.rawValue), (Label.cause, cause)])
    }

    // MARK: errors

    /// A failed unit of `command` (`scope="unit"`), or the error that ended `command`
    /// (`scope="job"`), by kind (`MigrationError.metricKind`).
    static func error(_ error: MigrationError, command: String, scope: String) {
        add(Name.errors, 1, [(Label.command, command), (Label.scope, scope), (Label.kind, error.metricKind)])
    }

    /// Runs one command's body, counting the error that ends it.
    static func countingErrors<T>(command: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let failure as MigrationError {
            error(failure, command: command, scope: "job")
            throw failure
        } catch is CancellationError {
            error(.interrupted, command: command, scope: "job")
            throw CancellationError()
        } catch let other {
            error(.unexpected(context: command, message: "\(other)"), command: command, scope: "job")
            throw other
        }
    }

    /// Creating the counter registers its series (at 0), so a dashboard sees it from the start.
    private static func add(_ name: String, _ value: Int64, _ dimensions: [(String, String)]) {
        Counter(label: name, dimensions: dimensions).increment(by: max(0, value))
    }
}

extension MigrationError {
    /// The error's case for the `errors_total` metric; target failures by their kind
    /// (`target.importFailed`, `target.unreachable`, …).
    public var metricKind: String {
        switch self {
        case .usage: return "usage"
        case .config: return "config"
        case .meta: return "meta"
        case .segment: return "segment"
        case .io: return "io"
        case .planFailed: return "planFailed"
        case .target(let failure): return "target.\(failure.kind)"
        case .unitsFailed: return "unitsFailed"
        case .unexpected: return "unexpected"
        case .interrupted: return "interrupted"
        case .storage: return "storage"
        case .journalTransition: return "journalTransition"
        }
    }
}
