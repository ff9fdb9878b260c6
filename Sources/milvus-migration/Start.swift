import ArgumentParser
import Foundation
import MilvusMigration

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dump and load as one pipelined, resumable job (a segment is imported as soon as it is staged).")

    @OptionGroup var options: ConfigOptions

    @OptionGroup var job: JobOptions

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            let config = try options.loadConfig([.meta, .source, .target, .milvus])
            let (plan, source) = try await Pipelines.plan(config, options)
            let staging = try StagingFactory.staging(config)
            let result = try await MilvusClient.with(try MilvusClient.Options(config: config)) { client in
                let startJob = StartJob(dump: DumpJob(plan: plan, source: source, staging: staging, options: Pipelines.dumpOptions(config, quiet: job.quiet)),
                                   load: LoadJob(staging: staging, client: client, options: Pipelines.loadOptions(config, options, quiet: job.quiet)))
                return try await Interrupts.cancellingOnSignal { try await startJob.run() }
            }
            Terminal.print(result.summary)
            try job.writeReport(result.json(plan: plan))
        }
    }
}
