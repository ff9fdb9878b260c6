import ArgumentParser
import Logging
import MilvusMigration

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the 1.x meta (SQLite or MySQL) as meta.json.",
        discussion: "Example: milvus-migration export -s /milvus/db/meta.sqlite -o ./out  (writes ./out/meta.json)")

    @Option(name: [.customShort("s"), .long], help: "The 1.x meta.sqlite file.")
    var sqlite: String?

    @Option(name: [.customShort("m"), .long], help: "The 1.x MySQL meta: user:password@tcp(host:port)/database, user:password@unix(/path/to/socket)/database or mysql://user:password@host:port/database.")
    var mysql: String?

    @Option(name: [.customShort("o"), .long], help: "Folder that receives meta.json.")
    var output: String

    @Option(name: .long, help: "Log level.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        try await runCommand(logLevel: logLevel) {
            let result = try await MigrationCommands.export(sqlite: sqlite, mysql: mysql, to: output) { diagnostics in
                for warning in diagnostics.warnings { Terminal.warning(warning.description) }
                for problem in diagnostics.errors { Terminal.error(problem.description) }
            }
            Terminal.print(result.summary)
        }
    }
}
