import ArgumentParser
import Foundation
import MilvusMigration

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the 2.x collections and partitions, bulk-import the dumped files (loader.mode insert: send the source's rows with Insert), check the row counts (resumable).")

    @OptionGroup var options: ConfigOptions

    @OptionGroup var job: JobOptions

    @OptionGroup var sharding: ShardOptions

    @OptionGroup var metrics: MetricsOptions

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            try await metrics.serving {
                let config = try options.loadConfig(for: .load)
                let commands = MigrationCommands(config, options, quiet: job.quiet, shard: try sharding.selection(config))
                let result = try await Interrupts.cancellingOnSignal { try await commands.load() }
                Terminal.print(result.summary)
                try job.writeReport(result.json(plan: nil))
            }
        }
    }
}
