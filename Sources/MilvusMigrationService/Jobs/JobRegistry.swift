import Foundation
import Logging
import MilvusMigration
import Synchronization

/// An error of a job API request: an HTTP status (4xx) and one sentence.
public struct APIError: Error, Sendable, Equatable {
    public var status: Int
    public var message: String

    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// The server's jobs: accepted, queued, run (by `JobServer`'s task group, through `runs`), watched,
/// cancelled, and kept as `<state dir>/jobs/<id>.json`, so that a restarted server still answers
/// for them and runs the ones it left unfinished again (the journal makes that a resume).
public actor JobRegistry {
    let stateDir: String
    /// The migration.yaml of requests that name none (`server --config`, else the default locations).
    let defaultConfig: String?
    let environment: [String: String]
    let logger = Logger(label: "milvus-migration.server")

    private var records: [String: JobRecord] = [:]
    private var live: [String: JobProgress] = [:]
    private var cancels: [String: CancelSignal] = [:]
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    /// Job ids to run, in order; `JobServer` runs each as a child task.
    public nonisolated let runs: AsyncStream<String>
    private let queue: AsyncStream<String>.Continuation

    public init(stateDir: String, defaultConfig: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.stateDir = stateDir
        self.defaultConfig = defaultConfig
        self.environment = environment
        (runs, queue) = AsyncStream.makeStream(of: String.self)
        let folder = stateDir + "/jobs"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw MigrationError.io(path: folder, operation: "create the server's state folder", reason: "\(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasSuffix(".json") {
            let path = folder + "/" + name
            guard let data = FileManager.default.contents(atPath: path), let record = try? decoder.decode(JobRecord.self, from: data) else {
                logger.warning("ignoring \(path): not a job record of this server")
                continue
            }
            records[record.jobId] = record
        }
    }

    // MARK: requests

    /// Accepts a job: its config is read and checked now (a bad one is a 400 naming the file and
    /// key), and no other job may be working on the same staging area (409).
    public func submit(_ kind: JobKind, configPath requested: String?, collections: [String], requestId: String?) throws -> JobRecord {
        let loaded: (config: MigrationConfig, path: String)
        do {
            loaded = try MigrationConfig.load(for: kind.command, explicit: requested ?? defaultConfig, environment: environment)
        } catch let error as MigrationError {
            throw APIError(400, error.description)
        }
        let (config, path) = loaded
        let location: String
        do {
            location = try config.stagingArea().location
        } catch let error as MigrationError {
            throw APIError(400, error.description)
        }
        if let busy = records.values.first(where: { !$0.status.isFinished && $0.stagingLocation == location }) {
            throw APIError(409, "job \(busy.jobId) (\(busy.kind.rawValue)) is working on the staging area \(location); one job at a time per journal: wait for it or cancel it")
        }
        let record = JobRecord(jobId: JobID.make(kind), kind: kind, configPath: URL(fileURLWithPath: path).standardizedFileURL.path,
                               collections: collections, requestId: requestId, status: .`init`, msg: "", created: Date(),
                               started: nil, finished: nil, stagingLocation: location, resumes: 0, summary: nil, snapshot: nil)
        records[record.jobId] = record
        save(record)
        queue.yield(record.jobId)
        logger.notice("job \(record.jobId): \(kind.rawValue) with \(record.configPath) accepted")
        return record
    }

    public func info(_ id: String) throws -> JobInfo {
        guard JobID.isWellFormed(id), let record = records[id] else { throw APIError(404, "no job \(id) on this server") }
        return JobInfo(record, live: live[id]?.snapshot())
    }

    /// Every job, newest first.
    public func list() -> [JobInfo] {
        records.values.sorted { $0.created > $1.created }.map { JobInfo($0, live: live[$0.jobId]?.snapshot()) }
    }

    /// Cancels a job that has not finished: it stops at once (what it staged or imported stays
    /// journaled, so a later job resumes it) and ends `fail` with "cancelled".
    public func cancel(_ id: String) throws -> JobInfo {
        guard JobID.isWellFormed(id), var record = records[id] else { throw APIError(404, "no job \(id) on this server") }
        guard !record.status.isFinished else { throw APIError(409, "job \(id) has already ended (\(record.status.rawValue))") }
        if let signal = cancels[id] {
            signal.fire()
        } else {
            // Not started yet: it never will.
            record.status = .fail
            record.msg = "cancelled before it started"
            record.finished = Date()
            records[id] = record
            save(record)
            wake(id)
        }
        logger.notice("job \(id): cancel requested")
        return JobInfo(records[id]!, live: live[id]?.snapshot())
    }

    /// Returns once the job has ended.
    public func waitUntilFinished(_ id: String) async {
        guard let record = records[id], !record.status.isFinished else { return }
        await withCheckedContinuation { waiters[id, default: []].append($0) }
    }

    /// The jobs a previous server process left unfinished, queued again to resume.
    public func resumeUnfinished() {
        for var record in records.values.sorted(by: { $0.created < $1.created }) where !record.status.isFinished {
            record.status = .`init`
            record.resumes += 1
            records[record.jobId] = record
            save(record)
            queue.yield(record.jobId)
            logger.notice("job \(record.jobId): unfinished when the server stopped; resuming it from the journal")
        }
    }

    /// No more jobs will be run (the server is stopping).
    public func close() { queue.finish() }

    // MARK: running

    /// Runs a queued job to its end (called by the server's task group). A cancel, a failure or
    /// the server stopping ends it `fail` with one sentence; a server stop leaves it resumable.
    public func run(_ id: String) async {
        guard var record = records[id], record.status == .`init` else { return }
        let progress = JobProgress()
        let signal = CancelSignal()
        record.status = .running
        record.started = Date()
        records[id] = record
        live[id] = progress
        cancels[id] = signal
        save(record)
        logger.notice("job \(id): running")

        let outcome = await Self.execute(record, progress: progress, signal: signal, environment: environment) { [weak self] in
            await self?.checkpoint(id)
        }
        record = records[id] ?? record
        record.snapshot = progress.snapshot()
        record.finished = Date()
        switch outcome {
        case .success(let summary):
            record.status = .success
            record.msg = "success"
            record.summary = summary
        case .failure(let error):
            record.status = .fail
            if signal.isFired {
                record.msg = "cancelled by request"
            } else if Task.isCancelled {
                // The server is stopping: the job stays resumable and is run again at the next start.
                record.status = .running
                record.msg = "interrupted by the server's shutdown; resumed at its next start"
            } else if let error = error as? MigrationError {
                record.msg = error.description
            } else {
                record.msg = "\(error)"
            }
        }
        records[id] = record
        live[id] = nil
        cancels[id] = nil
        save(record)
        logger.notice("job \(id): \(record.status.rawValue)\(record.status == .success ? "" : ": \(record.msg)")")
        wake(id)
    }

    /// The job itself, outside the actor: the library command of its kind with the progress
    /// observer, raced against its cancel signal; a sampler records throughput meanwhile.
    static func execute(_ record: JobRecord, progress: JobProgress, signal: CancelSignal, environment: [String: String],
                        checkpoint: @escaping @Sendable () async -> Void) async -> Result<String, any Error> {
        do {
            let (config, _) = try MigrationConfig.load(for: record.kind.command, explicit: record.configPath, environment: environment)
            var setup = MigrationCommands(config: config, collections: record.collections, quiet: true)
            setup.observer = progress
            let commands = setup
            let summary = try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask {
                    switch record.kind {
                    case .dump: return try await commands.dump().summary
                    case .load: return try await commands.load().summary
                    case .start: return try await commands.start().0.summary
                    }
                }
                group.addTask {
                    await signal.wait()
                    throw CancellationError()
                }
                group.addTask {
                    var tick = 0
                    while !Task.isCancelled {
                        progress.sample()
                        tick += 1
                        if tick % 5 == 0 { await checkpoint() }
                        try? await Task.sleep(for: .seconds(2))
                    }
                    return nil
                }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if let summary = result { return summary }
                }
                throw CancellationError()
            }
            progress.sample(force: true)
            return .success(summary)
        } catch {
            return .failure(error)
        }
    }

    /// Persists a running job's latest status (every ~10 s), so a restart shows recent figures.
    func checkpoint(_ id: String) {
        guard var record = records[id], let progress = live[id] else { return }
        record.snapshot = progress.snapshot()
        records[id] = record
        save(record)
    }

    private func wake(_ id: String) {
        for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.resume() }
    }

    private func save(_ record: JobRecord) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let path = "\(stateDir)/jobs/\(record.jobId).json"
        do {
            try encoder.encode(record).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            logger.error("cannot write \(path): \(error.localizedDescription); the job's state will not survive a restart")
        }
    }
}

/// Fired once by a cancel request; the job's task group waits on it.
final class CancelSignal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    var isFired: Bool { state.withLock { $0.fired } }

    func fire() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.fired = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { s -> Bool in
                    if s.fired || Task.isCancelled { return true }
                    s.waiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            // The job ended otherwise: let the waiter go (it throws, and nobody reads it).
            let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                defer { s.waiters = [] }
                return s.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }
}
