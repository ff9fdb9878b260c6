import ArgumentParser
import Foundation
import MilvusMigration

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the 2.x collections and partitions, bulk-insert the dumped files, check the row counts (resumable).")

    @OptionGroup var options: ConfigOptions

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    @Option(name: .long, help: "Also write a machine-readable report to this JSON file.")
    var report: String?

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            let config = try options.loadConfig([.target, .milvus])
            let staging = try StagingFactory.staging(config)
            let load = Pipelines.loadOptions(config, options, quiet: quiet)
            let result = try await MilvusClient.with(try MilvusClient.Options(config: config)) { client in
                try await Interrupts.cancellingOnSignal { try await LoadJob(staging: staging, client: client, options: load).run() }
            }
            Terminal.print(result.summary)
            if let report { try Reports.write(result.json(plan: nil), to: report) }
        }
    }
}
