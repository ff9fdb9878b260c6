import ArgumentParser
import Foundation
import MilvusMigration

struct Dump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn every live 1.x segment into NumPy files under <outputDir>/migration (resumable).")

    @OptionGroup var options: ConfigOptions

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            let config = try options.loadConfig([.meta, .source, .target])
            let meta = try await MetaLoader.load(config).selecting(options.collections)
            let source = try MetaLoader.sourceStorage(config)
            try await source.prepare()
            // The target bucket is checked (or created) before planning reads every segment.
            let staging = try StagingFactory.staging(config)
            try await staging.prepare()
            let plan = await Planner(storage: source, parallelism: max(4, config.dumper.limit),
                                     renames: config.target.milvus2x.collections).plan(meta)
            for warning in plan.diagnostics.warnings { Terminal.warning(warning.description) }
            for problem in plan.problems { Terminal.error(problem.description) }
            try plan.requireExecutable()
            var dumpOptions = DumpJob.Options()
            dumpOptions.parallelism = config.dumper.limit
            dumpOptions.bufferBytes = config.dumper.readerBufferKB * 1024
            dumpOptions.idField = config.target.milvus2x.idField
            dumpOptions.vectorField = config.target.milvus2x.vectorField
            dumpOptions.quiet = quiet
            let result = try await DumpJob(plan: plan, source: source, staging: staging, options: dumpOptions).run()
            Terminal.print(result.summary)
        }
    }
}
