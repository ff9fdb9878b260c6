import Foundation

/// The library's entry points, one per command: from the configuration to a report. The CLI
/// parses arguments, calls one of these (inside its Ctrl-C handling) and prints the result.
public struct MigrationCommands: Sendable {
    public var config: MigrationConfig
    /// `--col`: the 1.x collections to migrate (all when empty).
    public var collections: [String]
    /// No progress output.
    public var quiet: Bool
    /// Receives the plan's warnings and problems before a job runs (the CLI prints them).
    public var diagnostics: @Sendable (MigrationPlan) -> Void
    /// This process's shard of a sharded job (dump, load, start); nil: all segments.
    public var shard: ShardSelection?
    /// Hears the job's progress (dump, load, start): the HTTP job server's status.
    public var observer: (any MigrationObserver)?

    public init(config: MigrationConfig, collections: [String] = [], quiet: Bool = false, shard: ShardSelection? = nil,
                diagnostics: @escaping @Sendable (MigrationPlan) -> Void = { _ in }) {
        self.config = config
        self.shard = shard
        self.collections = collections
        self.quiet = quiet
        self.diagnostics = diagnostics
    }

    /// `plan`: reads the meta, selects `--col` and checks every live segment; with a sharded
    /// configuration also the split the pipeline will make (its units, grouped as
    /// `dumper.worker.groupMB` groups them). Problems stay in the result: it is printed, then
    /// `requireSuccess` fails the command.
    public func plan() async throws -> PlanResult {
        let (plan, _) = try await readPlan()
        guard let shards = try config.shardCount(), shards > 1 else { return PlanResult(plan: plan) }
        return PlanResult(plan: plan, shards: MigrationPipeline.shardShares(of: plan, shards: shards, options: config.pipelineOptions(quiet: true)))
    }

    /// The meta, `--col` selected, and every live segment checked.
    func readPlan() async throws -> (MigrationPlan, any SourceStorage) {
        let meta = try await config.sourceMeta().selecting(collections)
        let source = try config.sourceStorage()
        try await source.prepare()
        let plan = try await Planner(storage: source, parallelism: max(4, config.dumper.limit),
                                     renames: config.target.milvus2x.collections).plan(meta)
        return (plan, source)
    }

    /// `plan`, its diagnostics handed over, and an error unless it can run.
    func executablePlan() async throws -> (MigrationPlan, any SourceStorage) {
        let (plan, source) = try await readPlan()
        diagnostics(plan)
        try plan.requireExecutable()
        return (plan, source)
    }

    var pipeline: (any StagingArea) -> MigrationPipeline {
        { [shard, observer] in
            var options = config.pipelineOptions(quiet: quiet)
            options.shard = shard
            options.observer = observer
            return MigrationPipeline(staging: $0, options: options)
        }
    }

    /// `dump`: every live segment to NumPy files in the staging area.
    public func dump() async throws -> DumpReport {
        try await MigrationMetrics.countingErrors(command: "dump") { try await runDump() }
    }

    func runDump() async throws -> DumpReport {
        // The target bucket is checked (or created) before planning reads every segment.
        let staging = try config.stagingArea()
        try await staging.prepare()
        let (plan, source) = try await executablePlan()
        return try await pipeline(staging).dump(plan, from: source)
    }

    /// `load`: the staged dump into Milvus 2.x, counts checked. In insert mode (nothing was
    /// staged) the same as `start`.
    public func load() async throws -> LoadReport {
        try await MigrationMetrics.countingErrors(command: "load") { try await runLoad() }
    }

    func runLoad() async throws -> LoadReport {
        if config.loader.mode == .insert {
            // What `requirements(for: .load)` asks in insert mode: start's.
            try config.validate(config.requirements(for: .start))
            return try await runStart().0
        }
        let staging = try config.stagingArea()
        let (selected, renames) = (collections, config.target.milvus2x.collections)
        return try await MilvusClient.with(try config.milvusOptions()) { client in
            try await pipeline(staging).load(into: client, collections: selected, renames: renames)
        }
    }

    /// `start`: dump and load as one pipelined job (insert mode: the rows are sent from the
    /// source, nothing staged). Returns the plan too, for the report.
    public func start() async throws -> (LoadReport, MigrationPlan) {
        try await MigrationMetrics.countingErrors(command: "start") { try await runStart() }
    }

    func runStart() async throws -> (LoadReport, MigrationPlan) {
        let (plan, source) = try await executablePlan()
        let staging = try config.stagingArea()
        let insert = config.loader.mode == .insert
        let report = try await MilvusClient.with(try config.milvusOptions()) { client in
            insert ? try await pipeline(staging).insert(plan, from: source, into: client)
                   : try await pipeline(staging).start(plan, from: source, into: client)
        }
        return (report, plan)
    }

    /// `verify`: Milvus 2.x against the source. The report is printed, then `requireSuccess`
    /// fails the command when anything differs.
    public func verify(sample: Int, full: Bool, load: Bool) async throws -> Verifier.Report {
        let (plan, source) = try await executablePlan()
        let options = config.verifierOptions(sample: sample, full: full, load: load, quiet: quiet)
        return try await MilvusClient.with(try config.milvusOptions(createsDatabase: false)) { client in
            try await Verifier(plan: plan, source: source, client: client, options: options).run()
        }
    }

    /// `export`: the 1.x meta database (`-s` SQLite file, else `-m` MySQL DSN) as
    /// `<directory>/meta.json`. `diagnostics` receives the meta's warnings and problems first;
    /// a meta with problems is not exported.
    public static func export(sqlite: String?, mysql: String?, to directory: String,
                              diagnostics: ([Diagnostic]) -> Void = { _ in }) async throws -> ExportReport {
        let meta = try await MetaLoader.load(try MetaSource.database(sqlite: sqlite, mysql: mysql))
        diagnostics(meta.diagnostics)
        let path = try MetaExporter.export(meta, to: directory)
        return ExportReport(collections: meta.collections.count,
                            partitions: meta.collections.reduce(0) { $0 + $1.partitions.count - 1 },
                            segments: meta.collections.reduce(0) { $0 + $1.segments.count },
                            rows: meta.totalRows, path: path)
    }
}

extension MigrationCommands {
    /// The commands that read `migration.yaml`, for what each needs of it.
    public enum Command: String, Sendable, CaseIterable {
        case plan, dump, load, start, verify
    }
}

extension MigrationConfig {
    /// What `command` needs of the configuration (the parts `validate` checks): the one list the
    /// CLI and the job server both use. `load` in insert mode sends rows from the source, so it
    /// needs what `start` needs.
    public func requirements(for command: MigrationCommands.Command) -> Needs {
        switch command {
        case .plan: return [.meta, .source]
        case .dump: return [.meta, .source, .target]
        case .load: return loader.mode == .insert ? requirements(for: .start) : [.target, .milvus]
        case .start: return [.meta, .source, .target, .milvus]
        case .verify: return [.meta, .source, .milvus]
        }
    }

    /// Finds (`explicit`, else `locate`'s default places), reads and checks the configuration
    /// for `command`; also returns the path read.
    public static func load(for command: MigrationCommands.Command, explicit: String?,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (config: MigrationConfig, path: String) {
        let path = try locate(explicit)
        let config = try load(path: path, environment: environment)
        try config.validate(config.requirements(for: command))
        return (config, path)
    }
}
