import ArgumentParser
import Foundation
import MilvusMigration

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the 2.x collections and partitions, bulk-insert the dumped files, check the row counts (resumable).")

    @OptionGroup var options: ConfigOptions

    @OptionGroup var job: JobOptions

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            let config = try options.loadConfig([.target, .milvus])
            let staging = try StagingFactory.staging(config)
            let pipeline = MigrationPipeline(staging: staging, options: Pipelines.pipelineOptions(config, quiet: job.quiet))
            let (selected, renames) = (options.collections, config.target.milvus2x.collections)
            let result = try await MilvusClient.with(try MilvusClient.Options(config: config)) { client in
                try await Interrupts.cancellingOnSignal { try await pipeline.load(into: client, collections: selected, renames: renames) }
            }
            Terminal.print(result.summary)
            try job.writeReport(result.json(plan: nil))
        }
    }
}
