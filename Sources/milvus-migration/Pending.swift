import ArgumentParser
import MilvusMigration

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Dump and load as one pipelined, resumable job.")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            _ = try options.loadConfig([.meta, .source, .target, .milvus])
            throw MigrationError.notBuilt("start")
        }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Compare Milvus 2.x with the 1.x source.")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await runCommand(logLevel: options.logLevel) {
            _ = try options.loadConfig([.meta, .source, .milvus])
            throw MigrationError.notBuilt("verify")
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")

    func run() {
        print("milvus-migration \(MilvusMigrationVersion.current)")
    }
}
