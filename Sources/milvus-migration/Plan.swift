import ArgumentParser
import MilvusMigration

struct Plan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the 1.x meta and every live segment's files; print what a migration would do. Moves no data.")

    @OptionGroup var options: ConfigOptions

    @Flag(name: .long, help: "Print the plan as JSON.")
    var json = false

    @Option(name: .long, help: "Also write the plan as JSON to this file.")
    var report: String?

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            let result = try await MigrationCommands(try options.loadConfig(for: .plan), options).plan()
            Terminal.print(json ? result.json.serialized(pretty: true) : result.text)
            if let report { try Reports.write(result.json, to: report) }
            try result.requireSuccess()
        }
    }
}
