import ArgumentParser
import Milvus1xFixture
import MilvusMigration

struct Sample: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a small sample Milvus 1.x database (meta.sqlite + tables/) to try the tool on.")

    @Option(name: [.customShort("o"), .long], help: "Folder that receives meta.sqlite and tables/ (created).")
    var output: String

    @Option(name: .long, help: "Rows per segment.")
    var rows: Int = 1000

    func run() async throws {
        try await runCommand {
            guard rows > 0 && rows <= 10_000_000 else { throw MigrationError.usage("--rows must be between 1 and 10000000") }
            let summary = try SampleDatabase.write(root: output, rowsPerSegment: rows)
            Terminal.print("Sample Milvus 1.x database written: meta \(summary.metaPath), tables \(summary.tablesPath)")
            for c in summary.collections { Terminal.print("  \(c.name): \(c.liveRows) live rows") }
        }
    }
}
