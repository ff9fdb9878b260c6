import ArgumentParser
import Foundation
import MilvusMigration

struct Dump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn every live 1.x segment into NumPy files under <outputDir>/migration (resumable).")

    @OptionGroup var options: ConfigOptions

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    @Option(name: .long, help: "Also write a machine-readable report to this JSON file.")
    var report: String?

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            let config = try options.loadConfig([.meta, .source, .target])
            let (plan, source) = try await Pipelines.plan(config, options)
            let staging = try StagingFactory.staging(config)
            let job = DumpJob(plan: plan, source: source, staging: staging, options: Pipelines.dumpOptions(config, quiet: quiet))
            let result = try await Interrupts.cancellingOnSignal { try await job.run() }
            Terminal.print(result.summary)
            if let report { try Reports.write(result.json, to: report) }
        }
    }
}
