import Foundation

/// Shard `index` of `count` (`--shard i/N`, or `JOB_COMPLETION_INDEX` with a shard count): the
/// part of the segment list one worker process migrates. Every shard computes the same split
/// from the same meta (`ShardSplit`), so N processes cover every segment exactly once.
public struct ShardSelection: Sendable, Equatable, CustomStringConvertible {
    /// 0-based.
    public let index: Int
    public let count: Int

    /// Nil unless `0 <= index < count` and `count >= 1`.
    public init?(index: Int, count: Int) {
        guard count >= 1, count <= 100_000, index >= 0, index < count else { return nil }
        self.index = index
        self.count = count
    }

    /// `i/N` as on the command line; nil when it is not two integers with `0 <= i < N`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2,
              let i = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let n = Int(parts[1].trimmingCharacters(in: .whitespaces)) else { return nil }
        self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// The shard's own journal, beside the unsharded `journal.json` in the staging root.
    public var journalName: String { Self.journalName(index: index, count: count) }

    public static func journalName(index: Int, count: Int) -> String { "journal.shard-\(index)-of-\(count).json" }

    /// `(index, count)` of a shard journal's file name; nil for any other name (temporaries too).
    public static func parseJournalName(_ name: String) -> (index: Int, count: Int)? {
        guard name.hasPrefix("journal.shard-"), name.hasSuffix(".json") else { return nil }
        let middle = name.dropFirst("journal.shard-".count).dropLast(".json".count)
        let parts = middle.components(separatedBy: "-of-")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), String(i) == parts[0], String(n) == parts[1] else { return nil }
        return (i, n)
    }
}

/// The deterministic, byte-balanced split of work units over shards (the pipeline's units: a
/// segment or a group of segments, keyed and sized by `MigrationPipeline.select`): units sorted by
/// bytes, largest first (ties by key), each given to the shard with the fewest bytes so far (ties:
/// the fewest units, then the lowest index). It depends only on the set of (key, bytes) pairs,
/// not on their order, so shard processes that read the same meta agree without talking to
/// each other; and a greedy largest-first assignment keeps every shard within one unit's
/// bytes of the lightest.
public enum ShardSplit {
    /// The shard of every key. Keys must be unique (a repeated key keeps its largest size).
    public static func assign(_ items: [(key: String, bytes: Int64)], shards: Int) -> [String: Int] {
        precondition(shards >= 1)
        var sizes: [String: Int64] = [:]
        for item in items { sizes[item.key] = max(sizes[item.key] ?? Int64.min, item.bytes) }
        let ordered = sizes.sorted { a, b in a.value != b.value ? a.value > b.value : a.key < b.key }
        var bytes = [Int64](repeating: 0, count: shards)
        var segments = [Int](repeating: 0, count: shards)
        var result: [String: Int] = [:]
        for (key, size) in ordered {
            var best = 0
            for s in 1..<max(shards, 1) where (bytes[s], segments[s]) < (bytes[best], segments[best]) { best = s }
            result[key] = best
            bytes[best] += max(size, 0)
            segments[best] += 1
        }
        return result
    }

    /// Per shard: items and bytes (each item counted as one segment).
    public static func totals(_ items: [(key: String, bytes: Int64)], shards: Int) -> [(segments: Int, bytes: Int64)] {
        shares(items.map { (key: $0.key, bytes: $0.bytes, segments: 1) }, shards: shards).map { (segments: $0.units, bytes: $0.bytes) }
    }

    /// Per shard: the work units `assign` gives it, their segments and their bytes. An item is a
    /// unit (a segment, or a group of segments) with the number of segments it holds.
    public static func shares(_ items: [(key: String, bytes: Int64, segments: Int)], shards: Int) -> [ShardShare] {
        let assignment = assign(items.map { (key: $0.key, bytes: $0.bytes) }, shards: shards)
        var shares = [ShardShare](repeating: ShardShare(), count: shards)
        var seen: Set<String> = []
        for item in items where seen.insert(item.key).inserted {
            let s = assignment[item.key]!
            shares[s].units += 1
            shares[s].segments += item.segments
            shares[s].bytes += max(item.bytes, 0)
        }
        return shares
    }
}

/// One shard's part of a split, as `plan` prints it: work units (a segment or a group of
/// segments, `dumper.worker.groupMB`), the segments they hold and their bytes in the meta.
public struct ShardShare: Sendable, Equatable {
    public var units = 0
    public var segments = 0
    public var bytes: Int64 = 0

    public init(units: Int = 0, segments: Int = 0, bytes: Int64 = 0) {
        self.units = units
        self.segments = segments
        self.bytes = bytes
    }
}
