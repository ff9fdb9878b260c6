import ArgumentParser
import Foundation
import MilvusMigration

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

/// What the commands share: planning from the config and the job options it implies.
enum Pipelines {
    /// Reads the meta, selects `--col`, and checks every live segment; problems stay in the plan.
    static func buildPlan(_ config: MigrationConfig, _ options: ConfigOptions) async throws -> (MigrationPlan, any SourceStorage) {
        let meta = try await MetaLoader.load(config).selecting(options.collections)
        let source = try MetaLoader.sourceStorage(config)
        try await source.prepare()
        let plan = await Planner(storage: source, parallelism: max(4, config.dumper.limit),
                                 renames: config.target.milvus2x.collections).plan(meta)
        return (plan, source)
    }

    /// `buildPlan`, then its warnings and problems on stderr; throws unless the plan can run.
    static func plan(_ config: MigrationConfig, _ options: ConfigOptions) async throws -> (MigrationPlan, any SourceStorage) {
        let (plan, source) = try await buildPlan(config, options)
        for warning in plan.diagnostics.warnings { Terminal.warning(warning.description) }
        for problem in plan.problems { Terminal.error(problem.description) }
        try plan.requireExecutable()
        return (plan, source)
    }

    static func dumpOptions(_ config: MigrationConfig, quiet: Bool) -> DumpJob.Options {
        var o = DumpJob.Options()
        o.parallelism = config.dumper.limit
        o.bufferBytes = config.dumper.readerBufferKB * 1024
        o.idField = config.target.milvus2x.idField
        o.vectorField = config.target.milvus2x.vectorField
        o.quiet = quiet
        return o
    }

    static func loadOptions(_ config: MigrationConfig, _ options: ConfigOptions, quiet: Bool) -> LoadJob.Options {
        var o = LoadJob.Options()
        o.parallelism = config.loader.limit
        o.importTimeout = config.loader.importTimeout
        o.idField = config.target.milvus2x.idField
        o.vectorField = config.target.milvus2x.vectorField
        o.onExisting = config.target.milvus2x.onExisting
        o.shards = config.target.milvus2x.shardsNum
        o.renames = config.target.milvus2x.collections
        o.collections = options.collections
        o.createIndex = config.target.milvus2x.createIndex
        o.loadCollection = config.target.milvus2x.loadCollection
        o.quiet = quiet
        o.stagedLocally = config.target.mode == .local
        return o
    }
}

/// Ctrl-C (SIGINT) and SIGTERM cancel the running job: tasks stop at their next step, the
/// journal keeps what finished, and the command exits with "interrupted".
enum Interrupts {
    static func cancellingOnSignal<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await body() }
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("\nmilvus-migration: stopping after the current steps (the journal stays consistent)…\n".utf8))
                task.cancel()
            }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            return try await task.value
        } catch is CancellationError {
            throw MigrationError.interrupted
        }
    }
}

/// `--report FILE.json`.
enum Reports {
    static func write(_ value: JSONValue, to path: String) throws {
        try AtomicFile.write(Array((value.serialized(pretty: true) + "\n").utf8), to: path)
    }
}
