import ArgumentParser
import Foundation
import MilvusMigration

struct Dump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn every live 1.x segment into NumPy files under <outputDir>/migration (resumable).")

    @OptionGroup var options: ConfigOptions

    @OptionGroup var job: JobOptions

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            let config = try options.loadConfig([.meta, .source, .target])
            // The target bucket is checked (or created) before planning reads every segment.
            let staging = try StagingFactory.staging(config)
            try await staging.prepare()
            let (plan, source) = try await Pipelines.plan(config, options)
            let pipeline = MigrationPipeline(staging: staging, options: Pipelines.pipelineOptions(config, quiet: job.quiet))
            let result = try await Interrupts.cancellingOnSignal { try await pipeline.dump(plan, from: source) }
            Terminal.print(result.summary)
            try job.writeReport(result.json)
        }
    }
}
