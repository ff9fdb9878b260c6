import ArgumentParser
import Foundation
import MilvusMigration
import MilvusMigrationService
import Synchronization

/// Options of the commands that run a job.
struct JobOptions: ParsableArguments {
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    @Option(name: .long, help: "Also write a machine-readable report to this JSON file.")
    var report: String?

    /// Writes `value` to `--report` when given.
    func writeReport(_ value: @autoclosure () -> JSONValue) throws {
        if let report { try Reports.write(value(), to: report) }
    }
}

/// `--shard i/N` of the commands that move segments (dump, load, start).
struct ShardOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Run shard i of N (0-based) of a sharded job: the segments are split by bytes, the same way in every shard. Without it, JOB_COMPLETION_INDEX (Kubernetes Indexed Job) with a shard count from dumper.worker.shards or MILVUS_MIGRATION_SHARDS.", valueName: "i/N"))
    var shard: String?

    func selection(_ config: MigrationConfig) throws -> ShardSelection? {
        try config.shardSelection(flag: shard)
    }
}

/// `--metrics-address host:port` of the commands that run a job (dump, load, start).
struct MetricsOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Serve Prometheus metrics at http://HOST:PORT/metrics while the command runs (HOST defaults to 127.0.0.1; port 0 picks a free port, named on stderr).", valueName: "host:port"))
    var metricsAddress: String?

    /// Runs `body`, with the metrics server listening first when asked (a bad address is a
    /// usage error, an address that cannot be used fails before any work).
    func serving<T>(_ body: () async throws -> T) async throws -> T {
        guard let metricsAddress else { return try await body() }
        let address = try MetricsAddress(parsing: metricsAddress)
        return try await MetricsServer.serving(at: address) { _ in try await body() }
    }
}

extension MigrationCommands {
    /// The library's commands for a config and the `--col` / `--quiet` flags; the plan's
    /// warnings and problems go to stderr.
    init(_ config: MigrationConfig, _ options: ConfigOptions, quiet: Bool = false, shard: ShardSelection? = nil) {
        self.init(config: config, collections: options.collections, quiet: quiet, shard: shard) { plan in
            for warning in plan.diagnostics.warnings { Terminal.warning(warning.description) }
            for problem in plan.problems { Terminal.error(problem.description) }
        }
    }
}

/// Ctrl-C (SIGINT) and SIGTERM. `install()` runs first thing in `main`, so no signal is lost:
/// a real handler (not `SIG_IGN`) writes to a pipe, and a thread reading it cancels the running
/// job. The job's tasks stop at their next step (an RPC in flight is never cancelled), the
/// journal keeps what finished, and the command exits 1 with "interrupted; … a rerun continues"
/// and never prints a success summary. A second signal exits at once (the journal is written
/// atomically, so it stays consistent). Commands that run no job exit at the first signal.
enum Interrupts {
    private static let state = Mutex(State())
    nonisolated(unsafe) private static var pipeWrite: Int32 = -1

    private struct State: Sendable {
        var installed = false
        var received = 0
        /// True while a command that handles interrupts itself runs (dump, load, start, verify).
        var deferring = false
        var jobs: [Int: @Sendable () -> Void] = [:]
        var nextJob = 0
    }

    /// Installs the handlers of SIGINT and SIGTERM and starts the thread that acts on them.
    static func install() {
        let first = state.withLock { s -> Bool in
            defer { s.installed = true }
            return !s.installed
        }
        guard first else { return }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
        pipeWrite = fds[1]
        let readEnd = fds[0]
        let thread = Thread {
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                guard n == 1 else { return }
                Interrupts.received()
            }
        }
        thread.start()
        for sig in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { _ in
                var byte: UInt8 = 1
                _ = write(Interrupts.pipeWrite, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            _ = sigaction(sig, &action, nil)
        }
    }

    private static func received() {
        let (count, deferring, cancels) = state.withLock { s in
            s.received += 1
            return (s.received, s.deferring, Array(s.jobs.values))
        }
        if count > 1 || !deferring {
            FileHandle.standardError.write(Data("\nmilvus-migration: error: \(MigrationError.interrupted.description)\n".utf8))
            _exit(1)
        }
        FileHandle.standardError.write(Data("\nmilvus-migration: stopping after the current steps (the journal stays consistent); press Ctrl-C again to quit at once…\n".utf8))
        cancels.forEach { $0() }
    }

    /// Whether a signal arrived.
    static var wasInterrupted: Bool { state.withLock { $0.received > 0 } }

    /// From here on signals cancel the job instead of exiting (the command reports them).
    static func deferExit() {
        state.withLock { $0.deferring = true }
    }

    /// Throws `interrupted` when a signal arrived: called before anything is reported as done.
    static func check() throws {
        if wasInterrupted { throw MigrationError.interrupted }
    }

    /// Runs `body` as a task that a signal cancels (at once if one arrived already); throws
    /// `interrupted` when a signal arrived, even if `body` finished.
    static func cancellingOnSignal<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        deferExit()
        let task = Task { try await body() }
        let (id, already) = state.withLock { s -> (Int, Bool) in
            let id = s.nextJob
            s.nextJob += 1
            s.jobs[id] = { task.cancel() }
            return (id, s.received > 0)
        }
        defer { _ = state.withLock { $0.jobs.removeValue(forKey: id) } }
        if already { task.cancel() }
        do {
            let value = try await task.value
            try check()
            return value
        } catch is CancellationError {
            throw MigrationError.interrupted
        } catch {
            if wasInterrupted { throw MigrationError.interrupted }
            throw error
        }
    }
}

/// `--report FILE.json`.
enum Reports {
    static func write(_ value: JSONValue, to path: String) throws {
        try AtomicFile.write(Array((value.serialized(pretty: true) + "\n").utf8), to: path)
    }
}
