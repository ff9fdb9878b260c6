import ArgumentParser
import Foundation
import MilvusMigration

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dump and load as one pipelined, resumable job (a segment is imported as soon as it is staged).")

    @OptionGroup var options: ConfigOptions

    @OptionGroup var job: JobOptions

    @OptionGroup var sharding: ShardOptions

    @OptionGroup var metrics: MetricsOptions

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            try await metrics.serving {
                let config = try options.loadConfig(for: .start)
                let commands = MigrationCommands(config, options, quiet: job.quiet, shard: try sharding.selection(config))
                let (result, plan) = try await Interrupts.cancellingOnSignal { try await commands.start() }
                Terminal.print(result.summary)
                try job.writeReport(result.json(plan: plan))
            }
        }
    }
}
