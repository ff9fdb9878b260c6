/// What `verify` found: per collection and partition the counts, the rows compared, and the
/// mismatches (the first `keptMismatches` of each collection kept, all counted); the summary
/// table and the `--report` JSON.
public struct VerifyReport: Sendable {
    /// One difference between source and target.
    public struct Mismatch: Sendable, Equatable, CustomStringConvertible {
        public var collection: String
        public var partition: String?
        public var id: Int64?
        public var what: String

        public var description: String {
            var s = "collection '\(collection)'"
            if let partition { s += " partition '\(partition)'" }
            if let id { s += " id \(id)" }
            return s + ": " + what
        }
    }

    public struct Collection: Sendable {
        public var source: String
        public var target: String
        public var sourceRows: Int64 = 0
        public var targetRows: Int64 = 0
        public var partitions: [(name: String, source: Int64, target: Int64)] = []
        public var rowsCompared = 0
        /// The first `VerifyReport.keptMismatches` mismatches; `mismatchCount` counts them all.
        public var mismatches: [Mismatch] = []
        public var mismatchCount = 0
        /// The target keeps one row per primary key (Milvus Lite): `sourceRows` are the source's
        /// distinct ids, and partition counts are not compared.
        public var countsDistinctIds = false

        /// Counts a mismatch and keeps it while fewer than `VerifyReport.keptMismatches` are kept, so
        /// memory stays bounded however much differs.
        public init(source: String, target: String, sourceRows: Int64 = 0) {
            self.source = source
            self.target = target
            self.sourceRows = sourceRows
        }

        public mutating func record(_ mismatch: Mismatch) {
            mismatchCount += 1
            if mismatches.count < VerifyReport.keptMismatches { mismatches.append(mismatch) }
        }
    }

    /// Mismatches kept (and printed) per collection; the rest are only counted.
    public static let keptMismatches = 20

    public var collections: [Collection]
    public var full: Bool
    /// The kept mismatches (the first `VerifyReport.keptMismatches` of each collection).
    public var mismatches: [Mismatch] { collections.flatMap(\.mismatches) }
    /// Every mismatch found, kept or only counted.
    public var mismatchCount: Int { collections.reduce(0) { $0 + $1.mismatchCount } }

    public init(collections: [Collection], full: Bool) {
        self.collections = collections
        self.full = full
    }

    /// Throws a `mismatch` error naming the count and the first mismatch when anything differs:
    /// `verify` fails after printing its report.
    public func requireSuccess() throws {
        if let first = mismatches.first {
            throw MigrationError.target(.mismatch, subject: "verify", message: "\(mismatchCount) mismatch(es) between Milvus and the source; first: \(first)")
        }
    }
}

extension VerifyReport {
    public var summary: String {
        var table = TextTable(headers: ["collection", "2.x collection", "partition", "source rows", "Milvus rows", "result"], numeric: [3, 4])
        for c in collections {
            table.add([c.source, c.target, "(all)", Format.count(c.sourceRows), Format.count(c.targetRows),
                       c.mismatchCount == 0 ? "ok" : "\(c.mismatchCount) mismatch(es)"])
            for p in c.partitions {
                let result = c.countsDistinctIds ? "not compared" : (p.source == p.target ? "ok" : "COUNT DIFFERS")
                table.add(["", "", p.name, Format.count(p.source), Format.count(p.target), result])
            }
        }
        var out = table.render() + "\n"
        for c in collections where c.countsDistinctIds {
            out += "  \(c.target): the target keeps one row per primary key, so its count is compared with the source's \(Format.count(c.sourceRows)) distinct ids and partition counts are not compared.\n"
        }
        let compared = collections.reduce(0) { $0 + $1.rowsCompared }
        out += "\n\(compared) row(s) compared by id and vector bytes (\(full ? "every live row" : "random sample")).\n"
        if mismatchCount == 0 {
            out += "Milvus matches the source.\n"
        } else {
            out += "Mismatches (\(mismatchCount)):\n" + mismatches.map { "  - \($0)" }.joined(separator: "\n") + "\n"
            if mismatchCount > mismatches.count { out += "  … and \(mismatchCount - mismatches.count) more (the first \(VerifyReport.keptMismatches) of each collection are listed)\n" }
        }
        return out
    }

    public var json: JSONValue {
        .object([
            ("ok", .bool(mismatchCount == 0)),
            ("mismatchCount", .integer(mismatchCount)),
            ("full", .bool(full)),
            ("collections", .array(collections.map { c in
                .object([
                    ("collection", .string(c.source)),
                    ("target", .string(c.target)),
                    ("sourceRows", .int(c.sourceRows)),
                    ("targetRows", .int(c.targetRows)),
                    ("rowRule", .string(c.countsDistinctIds ? "onePerPrimaryKey" : "everyRow")),
                    ("rowsCompared", .integer(c.rowsCompared)),
                    ("mismatchCount", .integer(c.mismatchCount)),
                    ("partitions", .array(c.partitions.map { p in
                        .object([("name", .string(p.name)), ("sourceRows", .int(p.source)), ("targetRows", .int(p.target))])
                    })),
                    ("mismatches", .array(c.mismatches.map { m in
                        .object([("partition", .optional(m.partition)), ("id", m.id.map { .int($0) } ?? .null), ("what", .string(m.what))])
                    })),
                ])
            })),
        ])
    }
}
