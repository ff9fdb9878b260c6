import Foundation

/// A sharded run (`PipelineOptions.shard`): N processes share one staging area and one target,
/// each migrating the segments `ShardSplit` gives its index, with a journal of its own.
extension MigrationPipeline {
    /// The journal this run reads and writes.
    var journalName: String { options.shard?.journalName ?? JobJournal.fileName }

    /// This shard's units (all of them when unsharded). The split is over `units` as given, so
    /// every shard must select the same collections (`--col`).
    func select(_ units: [SegmentUnit]) -> [SegmentUnit] {
        guard let shard = options.shard else { return units }
        let assignment = ShardSplit.assign(units.map { (key: $0.key, bytes: $0.shardBytes) }, shards: shard.count)
        return units.filter { assignment[$0.key] == shard.index }
    }

    /// What each of `shards` shards of a run of `plan` with `options` migrates (`plan` prints it):
    /// the units a first run forms (segments grouped up to `options.groupBytes`) split as `select`
    /// splits them (a rerun keeps the shapes its journals recorded, which `plan` does not read).
    public static func shardShares(of plan: MigrationPlan, shards: Int, options: PipelineOptions) -> [ShardShare] {
        let units = SegmentUnit.all(of: plan, fields: options.fields, groupBytes: options.groupBytes)
        return ShardSplit.shares(units.map { (key: $0.key, bytes: $0.shardBytes, segments: $0.members.count) }, shards: shards)
    }

    /// What `begin` may clean: everything when unsharded; only this shard's folders and journal
    /// temporaries otherwise (the other shards' half-written files are their work in progress).
    func leftoverScope(_ units: [SegmentUnit]) -> LeftoverScope {
        guard options.shard != nil else { return .whole }
        return LeftoverScope(smallFiles: [journalName], folders: Set(select(units).map(\.folder)))
    }

    /// The report says which shard it covers (its counts are the shard's only).
    func shardReport(_ report: LoadReport) -> LoadReport {
        var report = report
        report.shard = options.shard
        return report
    }

    /// Opens this run's journal after checking that the staging area is not another layout's:
    /// an unsharded journal and shard journals (or shard journals of another N) record different
    /// splits of the same segments, so continuing one with the other would import segments twice.
    func openJournal() async throws -> JobJournal {
        let names = try await staging.smallFiles(prefix: "journal.")
        let shardCounts = Set(names.compactMap { ShardSelection.parseJournalName($0)?.count })
        if let shard = options.shard {
            if let other = shardCounts.sorted().first(where: { $0 != shard.count }) {
                let example = names.first { ShardSelection.parseJournalName($0)?.count == other } ?? ""
                throw MigrationError.usage("--shard \(shard): \(staging.location) holds \(example) of a run with \(other) shards; every shard of a job must use the same shard count (use --shard i/\(other), or another staging folder for a new job)")
            }
            if names.contains(JobJournal.fileName) {
                throw MigrationError.usage("--shard \(shard): \(staging.location) holds \(JobJournal.fileName) of an unsharded run; shards cannot continue it (its segments could be imported again): finish it without --shard, or use another staging folder")
            }
        } else if let count = shardCounts.sorted().first {
            let example = names.first { ShardSelection.parseJournalName($0) != nil } ?? ""
            throw MigrationError.usage("\(staging.location) holds \(example) of a run with \(count) shards; continue it with --shard i/\(count) (or JOB_COMPLETION_INDEX and a shard count of \(count)), or use another staging folder")
        }
        let journal = try await JobJournal.open(staging, name: journalName)
        await journal.observe(options.observer)
        return journal
    }
}

/// The other shards' journals, read (never written) for the collections' records: shard 0
/// decides what happens to each collection and the others adopt its decision.
struct ShardPeers: Sendable {
    var staging: any StagingArea
    var shard: ShardSelection

    /// Shard `index`'s journal (an empty one when that shard has not started).
    func journal(of index: Int) async throws -> JobJournal {
        try await JobJournal.open(staging, name: ShardSelection.journalName(index: index, count: shard.count))
    }

    /// Shard `index`'s record of collection `name`, if its journal has one.
    func record(_ name: String, shard index: Int) async throws -> CollectionRecord? {
        try await journal(of: index).collection(name)
    }

    /// A record of `name` in any other shard's journal: the collection is this job's.
    func anyOtherRecord(_ name: String) async throws -> CollectionRecord? {
        for index in 0..<shard.count where index != shard.index {
            if let record = try await record(name, shard: index) { return record }
        }
        return nil
    }

    func location(of index: Int) -> String {
        "\(staging.location)/\(ShardSelection.journalName(index: index, count: shard.count))"
    }
}
