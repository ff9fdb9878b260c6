import ArgumentParser
import Foundation
import MilvusMigration

struct Dump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn every live 1.x segment into NumPy files under <outputDir>/migration (resumable).")

    @OptionGroup var options: ConfigOptions

    @OptionGroup var job: JobOptions

    @OptionGroup var sharding: ShardOptions

    @OptionGroup var metrics: MetricsOptions

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            try await metrics.serving {
                let config = try options.loadConfig(for: .dump)
                let commands = MigrationCommands(config, options, quiet: job.quiet, shard: try sharding.selection(config))
                let result = try await Interrupts.cancellingOnSignal { try await commands.dump() }
                Terminal.print(result.summary)
                try job.writeReport(result.json)
            }
        }
    }
}
