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

    @Option(name: .long, help: "Segments per collection with --bench-collections (default 8).")
    var segments: Int?

    @Option(name: .long, help: "Dimension with --bench-collections (default 128).")
    var dim: Int?

    func run() async throws {
        try await runCommand {
            try CLINumbers.check("--rows", rows, 1...10_000_000)
            guard let benchCollections else {
                if segments != nil || dim != nil {
                    throw MigrationError.usage("--segments and --dim apply only with --bench-collections")
                }
                let summary = try SampleDatabase.write(root: output, rowsPerSegment: rows)
                Terminal.print("Sample Milvus 1.x database written: meta \(summary.metaPath), tables \(summary.tablesPath)")
                for c in summary.collections { Terminal.print("  \(c.name): \(c.liveRows) live rows") }
                return
            }
            try CLINumbers.check("--bench-collections", benchCollections, 1...1000)
            let segments = try CLINumbers.check("--segments", self.segments ?? 8, 1...10_000)
            let dim = try CLINumbers.check("--dim", self.dim ?? 128, 1...32768)
            do {
                let (segmentCount, live) = try BenchDatabase.write(root: output, collections: benchCollections, segmentsPerCollection: segments,
                                                                    rowsPerSegment: rows, dimension: dim)
                Terminal.print("Benchmark database written to \(output): \(benchCollections) collection(s), \(segmentCount) segment(s), \(live) live rows")
            }
        }
    }
}

/// Range checks of numeric command-line options: a bad value is a usage error naming the option.
enum CLINumbers {
    @discardableResult
    static func check(_ option: String, _ value: Int, _ range: ClosedRange<Int>) throws -> Int {
        guard range.contains(value) else {
            throw MigrationError.usage("\(option) must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }
}
