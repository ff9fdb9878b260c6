import ArgumentParser
import Foundation
import MilvusMigration

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare Milvus 2.x with the 1.x source: collections, partitions, schema, row counts, and ids and vectors of sampled (or all) rows.")

    @OptionGroup var options: ConfigOptions

    @Option(name: .long, help: "Rows compared per collection (random sample, default 1000, at most 1000000).")
    var sample: Int?

    @Flag(name: .long, help: "Compare every live row.")
    var full = false

    @Flag(name: .long, help: "Build the mapped index if missing and load the collections (rows can only be read from loaded collections).")
    var load = false

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    @OptionGroup var job: JobOptions

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            if full && sample != nil { throw MigrationError.usage("--sample and --full exclude each other (--full compares every row)") }
            let sample = try CLINumbers.check("--sample", self.sample ?? 1000, 1...1_000_000)
            let commands = MigrationCommands(try options.loadConfig(for: .verify), options, quiet: job.quiet)
            let (full, load) = (self.full, self.load)
            let result = try await Interrupts.cancellingOnSignal { try await commands.verify(sample: sample, full: full, load: load) }
            Terminal.print(json ? result.json.serialized(pretty: true) : result.summary)
            try job.writeReport(result.json)
            try result.requireSuccess()
        }
    }
}
