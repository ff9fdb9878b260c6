import ArgumentParser
import Foundation
import MilvusMigration

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the 2.x collections and partitions, bulk-insert the dumped files, check the row counts (resumable).")

    @OptionGroup var options: ConfigOptions

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            let config = try options.loadConfig([.target, .milvus])
            let staging = try StagingFactory.staging(config)
            var load = LoadJob.Options()
            load.parallelism = config.loader.limit
            load.importTimeout = config.loader.importTimeout
            load.idField = config.target.milvus2x.idField
            load.vectorField = config.target.milvus2x.vectorField
            load.onExisting = config.target.milvus2x.onExisting
            load.shards = config.target.milvus2x.shardsNum
            load.renames = config.target.milvus2x.collections
            load.collections = options.collections
            load.createIndex = config.target.milvus2x.createIndex
            load.loadCollection = config.target.milvus2x.loadCollection
            load.quiet = quiet
            load.stagedLocally = config.target.mode == .local
            let result = try await MilvusClient.with(try MilvusClient.Options(config: config)) { client in
                try await LoadJob(staging: staging, client: client, options: load).run()
            }
            Terminal.print(result.summary)
        }
    }
}
