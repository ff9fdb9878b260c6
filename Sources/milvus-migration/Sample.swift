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

    @Option(name: .long, help: "Benchmark profile: this many float collections of --segments segments each (no bloom filters).")
    var benchCollections: Int?

    @Option(name: .long, help: "Segments per collection with --bench-collections.")
    var segments: Int = 8

    @Option(name: .long, help: "Dimension with --bench-collections.")
    var dim: Int = 128

    func run() async throws {
        try await runCommand {
            guard rows > 0 && rows <= 10_000_000 else { throw MigrationError.usage("--rows must be between 1 and 10000000") }
            if let benchCollections {
                let (segmentCount, live) = try BenchDatabase.write(root: output, collections: benchCollections, segmentsPerCollection: segments,
                                                                    rowsPerSegment: rows, dimension: dim)
                Terminal.print("Benchmark database written to \(output): \(benchCollections) collection(s), \(segmentCount) segment(s), \(live) live rows")
                return
            }
            let summary = try SampleDatabase.write(root: output, rowsPerSegment: rows)
            Terminal.print("Sample Milvus 1.x database written: meta \(summary.metaPath), tables \(summary.tablesPath)")
            for c in summary.collections { Terminal.print("  \(c.name): \(c.liveRows) live rows") }
        }
    }
}
