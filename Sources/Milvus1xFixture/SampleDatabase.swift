/// The small sample 1.x database of the quickstart and the `sample` command: a float collection
/// with a partition and deletions, and a binary collection with an index (BACKUP + INDEX rows).
public enum SampleDatabase {
    public struct Summary: Sendable {
        public var metaPath: String
        public var tablesPath: String
        public var collections: [(name: String, liveRows: Int)]
    }

    /// Deterministic pseudo-random numbers (SplitMix64), so every sample is identical.
    public struct SplitMix64: Sendable {
        var state: UInt64
        public init(seed: UInt64) { state = seed }
        public mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        /// A float in [-1, 1).
        public mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
    }

    /// A deterministic float vector value for (seed, row, column).
    public static func floatValue(seed: UInt64, row: Int, column: Int) -> Float {
        var rng = SplitMix64(seed: seed &+ UInt64(row) &* 1_000_003 &+ UInt64(column))
        return rng.nextFloat()
    }

    @discardableResult
    public static func write(root: String, rowsPerSegment: Int = 1000) throws -> Summary {
        let db = try Milvus1xDatabase(root: root, version: "1.1.1")
        // Float collection: 2 segments in the default partition, 1 in partition "2023 Q1".
        db.addCollection("products", dimension: 16, metric: 1, engineType: 2, indexParams: #"{"nlist":128}"#)
        let q1 = db.addPartition(of: "products", tag: "2023 Q1")
        var nextId: Int64 = 1
        var productRows = 0
        for (table, planned) in [("products", [[Int32(3), 7], [1, 3]]), ("products", []), (q1, [[Int32(0)]])] {
            let deletes = planned.map { $0.filter { Int($0) < rowsPerSegment } }
            let base = nextId
            let seed = UInt64(base)
            try db.addSegment(table: table, rows: rowsPerSegment, id: { base + Int64($0) }, vector: { row, buffer in
                for c in 0..<16 { buffer.storeBytes(of: floatValue(seed: seed, row: row, column: c).bitPattern.littleEndian, toByteOffset: 4 * c, as: UInt32.self) }
            }, deleteBatches: deletes)
            nextId += Int64(rowsPerSegment)
            productRows += rowsPerSegment - Set(deletes.flatMap { $0 }).count
        }
        // Binary collection: 64-bit fingerprints, one indexed segment, one raw segment.
        db.addCollection("fingerprints", dimension: 64, metric: 3, engineType: 10, indexParams: #"{"nlist":64}"#)
        var fingerprintRows = 0
        for state in [Milvus1xDatabase.SegmentState.indexed(engineType: 10), .raw] {
            let base = nextId
            try db.addSegment(table: "fingerprints", rows: rowsPerSegment, id: { base + Int64($0) }, vector: { row, buffer in
                var rng = SplitMix64(seed: UInt64(base) &+ UInt64(row))
                buffer.storeBytes(of: rng.next(), as: UInt64.self)
            }, deleteBatches: rowsPerSegment > 5 ? [[5]] : [], state: state)
            nextId += Int64(rowsPerSegment)
            fingerprintRows += rowsPerSegment - (rowsPerSegment > 5 ? 1 : 0)
        }
        // A dropped collection, which must not be migrated.
        db.addCollection("old_products", dimension: 16, metric: 2, state: 1)
        try db.finish()
        return Summary(metaPath: db.metaPath, tablesPath: db.tablesPath,
                       collections: [("fingerprints", fingerprintRows), ("products", productRows)])
    }
}

/// A large synthetic 1.x database for benchmarks: several float collections, many segments,
/// some deletions. Written streaming; no bloom filters (they do not affect a migrator).
public enum BenchDatabase {
    @discardableResult
    public static func write(root: String, collections: Int, segmentsPerCollection: Int, rowsPerSegment: Int,
                             dimension: Int) throws -> (segments: Int, rows: Int64) {
        let db = try Milvus1xDatabase(root: root, version: "1.1.1")
        db.writesBloomFilter = false
        var nextId: Int64 = 1
        var liveRows: Int64 = 0
        for c in 0..<collections {
            let name = "bench_\(c)"
            db.addCollection(name, dimension: dimension, metric: 1)
            for s in 0..<segmentsPerCollection {
                let base = nextId
                // Every third segment has scattered deletions (1 row in 1000).
                let deletes: [[Int32]] = s % 3 == 0 ? [Array(stride(from: Int32(7), to: Int32(rowsPerSegment), by: 1000)).reversed()] : []
                try db.addSegment(table: name, rows: rowsPerSegment, id: { base + Int64($0) }, vector: { row, buffer in
                    var rng = SampleDatabase.SplitMix64(seed: UInt64(base) &+ UInt64(row))
                    for i in 0..<dimension { buffer.storeBytes(of: rng.nextFloat().bitPattern, toByteOffset: 4 * i, as: UInt32.self) }
                }, deleteBatches: deletes)
                nextId += Int64(rowsPerSegment)
                liveRows += Int64(rowsPerSegment - deletes.joined().count)
            }
        }
        try db.finish()
        return (collections * segmentsPerCollection, liveRows)
    }
}
