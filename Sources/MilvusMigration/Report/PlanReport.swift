import Foundation

/// What `plan` returns: the plan, the shard split a sharded job would use, the output as text or
/// JSON, and whether the command fails (printed first, then failed: the problems are the output).
public struct PlanResult: Sendable {
    public var plan: MigrationPlan
    /// Per shard, when the configuration shards the job (more than one shard).
    public var shards: [ShardShare]?

    public init(plan: MigrationPlan, shards: [ShardShare]? = nil) {
        self.plan = plan
        self.shards = shards
    }

    public var text: String { PlanReport.text(plan, shards: shards) }
    public var json: JSONValue { PlanReport.json(plan) }

    /// Throws `planFailed` unless the plan can run.
    public func requireSuccess() throws { try plan.requireExecutable() }
}

/// `plan` output: a table per collection and partition plus every problem, as text or JSON.
public enum PlanReport {
    /// `shards`: the split of a sharded job (`MigrationPipeline.shardShares`), printed when it has more than one shard.
    public static func text(_ plan: MigrationPlan, shards: [ShardShare]? = nil) -> String {
        var table = TextTable(headers: ["collection", "partition (1.x tag)", "kind", "dim", "metric", "segments", "live rows", "deleted rows", "source bytes", "staged bytes"],
                              numeric: [3, 5, 6, 7, 8, 9])
        for c in plan.collections {
            for p in c.partitions {
                table.add([
                    c.targetName == c.source.name ? c.source.name : "\(c.source.name) -> \(c.targetName)",
                    p.source.tag.map { "\(p.source.name) (\($0))" } ?? p.source.name,
                    c.source.vectorKind.rawValue,
                    String(c.source.dimension),
                    c.source.metric?.name ?? "?",
                    String(p.segments.count),
                    Format.count(p.liveRows),
                    Format.count(p.deletedRows),
                    Format.bytes(p.sourceBytes),
                    Format.bytes(p.stagedBytes(c.source)),
                ])
            }
        }
        var out = "Plan: meta \(plan.metaOrigin), segments in \(plan.sourceLocation)\n\n"
        out += table.render() + "\n\n"
        let staged = plan.collections.reduce(Int64(0)) { $0 + $1.stagedBytes }
        out += "Total: \(plan.collections.count) collection(s), \(plan.segmentCount) segment(s), \(Format.count(plan.liveRows)) live rows, \(Format.bytes(staged)) to stage.\n"
        if let shards, shards.count > 1 { out += "\n" + shardText(shards) }
        let warnings = plan.diagnostics.warnings
        let errors = plan.diagnostics.errors
        if !warnings.isEmpty {
            out += "\nWarnings (\(warnings.count)):\n" + warnings.map { "  - \($0.subject): \($0.message)" }.joined(separator: "\n") + "\n"
        }
        if errors.isEmpty {
            out += "\nNo problems found.\n"
        } else {
            out += "\nProblems (\(errors.count)); nothing can be migrated until they are fixed:\n" + errors.map { "  - \($0.subject): \($0.message)" }.joined(separator: "\n") + "\n"
        }
        return out
    }

    public static func json(_ plan: MigrationPlan) -> JSONValue {
        .object([
            ("meta", .string(plan.metaOrigin)),
            ("source", .string(plan.sourceLocation)),
            ("ok", .bool(plan.isExecutable)),
            ("liveRows", .integer(plan.liveRows)),
            ("segments", .integer(plan.segmentCount)),
            ("collections", .array(plan.collections.map { c in
                .object([
                    ("collection", .string(c.source.name)),
                    ("target", .string(c.targetName)),
                    ("vectorKind", .string(c.source.vectorKind.rawValue)),
                    ("dim", .integer(c.source.dimension)),
                    ("metric", .optional(c.source.metric?.name)),
                    ("engine", .optional(c.source.engine?.name)),
                    ("indexParams", .string(c.source.indexParams)),
                    ("liveRows", .integer(c.liveRows)),
                    ("deletedRows", .integer(c.deletedRows)),
                    ("sourceBytes", .integer(c.sourceBytes)),
                    ("stagedBytes", .integer(c.stagedBytes)),
                    ("partitions", .array(c.partitions.map { p in
                        .object([
                            ("name", .string(p.source.name)),
                            ("tag", .optional(p.source.tag)),
                            ("tableId", .string(p.source.tableId)),
                            ("segments", .array(p.segments.map { s in
                                .object([
                                    ("segment", .string(s.segment.id)),
                                    ("rows", .integer(s.totalRows)),
                                    ("liveRows", .integer(s.liveRows)),
                                    ("deletedRows", .integer(s.deleted.count)),
                                    ("sourceBytes", .integer(s.sourceBytes)),
                                ])
                            })),
                            ("liveRows", .integer(p.liveRows)),
                            ("deletedRows", .integer(p.deletedRows)),
                            ("sourceBytes", .integer(p.sourceBytes)),
                            ("stagedBytes", .integer(p.stagedBytes(c.source))),
                        ])
                    })),
                ])
            })),
            ("problems", .array(plan.diagnostics.errors.map(diagnosticJSON))),
            ("warnings", .array(plan.diagnostics.warnings.map(diagnosticJSON))),
        ])
    }

    /// The split `--shard i/N` will use: work units (segments or groups), segments and meta bytes per shard.
    static func shardText(_ shares: [ShardShare]) -> String {
        var table = TextTable(headers: ["shard", "units", "segments", "bytes (meta)"], numeric: [1, 2, 3])
        for (i, share) in shares.enumerated() {
            table.add(["\(i)/\(shares.count)", String(share.units), String(share.segments), Format.bytes(share.bytes)])
        }
        return "Shard split (\(shares.count) shards, balanced by bytes):\n" + table.render() + "\n"
    }

    static func diagnosticJSON(_ d: Diagnostic) -> JSONValue {
        .object([("subject", .string(d.subject)), ("message", .string(d.message))])
    }
}
