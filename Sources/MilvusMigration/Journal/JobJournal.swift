import Foundation

/// What the load did to a 2.x collection, so a rerun knows the collection is its own.
public struct CollectionRecord: Codable, Sendable, Equatable {
    /// The 2.x collection name.
    public var name: String
    /// True when this job created it; false when it appended to an existing one.
    public var createdByJob: Bool
    /// Rows the collection had before this job imported anything (0 when created).
    public var rowsBefore: Int64
    public var updated: Date
    /// Sharded runs: shard 0 skipped it (`onExisting: skip`), and so do the other shards.
    public var skipped: Bool?

    public init(name: String, createdByJob: Bool, rowsBefore: Int64, updated: Date, skipped: Bool? = nil) {
        self.name = name
        self.createdByJob = createdByJob
        self.rowsBefore = rowsBefore
        self.updated = updated
        self.skipped = skipped
    }
}

/// The job journal: one JSON file in the staging root, rewritten atomically (temp file, fsync,
/// rename) after every change, so a `kill -9` at any moment leaves the previous or the next state.
public actor JobJournal {
    public static let fileName = "journal.json"

    private struct File: Codable {
        var version: Int
        var segments: [SegmentRecord]
        var collections: [CollectionRecord]?
    }

    private let staging: any StagingArea
    /// `journal.json`, or a shard's `journal.shard-<i>-of-<N>.json`.
    public nonisolated let name: String
    private var records: [String: SegmentRecord]
    private var collectionRecords: [String: CollectionRecord]
    /// Told of every record change once it is persisted.
    private var observer: (any MigrationObserver)?
    /// The units the `units` gauges show (this run's: key → collection) and how many of each
    /// collection are in each phase. Every phase change passes through `apply`, so the gauges
    /// follow the journal exactly; records of units the run does not move stay out.
    private var tracked: [String: String] = [:]
    private var phaseCounts: [String: [SegmentPhase: Int]] = [:]

    private init(staging: any StagingArea, name: String, records: [String: SegmentRecord], collections: [String: CollectionRecord] = [:]) {
        self.staging = staging
        self.name = name
        self.records = records
        self.collectionRecords = collections
    }

    /// Opens the journal of a staging area (empty when there is none yet); `name` is a shard's
    /// journal when the run is sharded.
    public static func open(_ staging: any StagingArea, name fileName: String = fileName) async throws -> JobJournal {
        guard let bytes = try await staging.readSmallFile(fileName) else {
            return JobJournal(staging: staging, name: fileName, records: [:])
        }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let file = try decoder.decode(File.self, from: Data(bytes))
            guard file.version == 1 else {
                throw MigrationError.io(path: "\(staging.location)/\(fileName)", operation: "use", reason: "journal version \(file.version) is not supported")
            }
            return JobJournal(staging: staging, name: fileName, records: Dictionary(file.segments.map { ($0.key, $0) }, uniquingKeysWith: { $1 }),
                              collections: Dictionary((file.collections ?? []).map { ($0.name, $0) }, uniquingKeysWith: { $1 }))
        } catch let error as MigrationError {
            throw error
        } catch {
            throw MigrationError.io(path: "\(staging.location)/\(fileName)", operation: "read the journal", reason: "it is damaged (\(error)); move it away to start the job over")
        }
    }

    public func record(_ key: String) -> SegmentRecord? { records[key] }

    /// From now on, `observer` hears of every record change once it is persisted.
    public func observe(_ observer: (any MigrationObserver)?) { self.observer = observer }

    public var all: [SegmentRecord] { records.values.sorted { $0.key < $1.key } }

    /// Applies `event` to the segment's record (a new one when the journal has none), persists
    /// the journal and returns the new record. An illegal transition throws
    /// `MigrationError.journalTransition` and changes nothing.
    @discardableResult
    public func apply(_ event: SegmentEvent, to key: String) async throws -> SegmentRecord {
        var record = records[key] ?? SegmentRecord(key: key)
        let before = record.phase
        try record.apply(event)
        records[key] = record
        if let collection = tracked[key], before != record.phase {
            count(collection, before, -1)
            count(collection, record.phase, +1)
        }
        try await persist()
        observer?.changed(record)
        return record
    }

    /// Shows the phases of these units (the run's: its key and collection each) in the
    /// `units` gauges from now on; a unit without a record counts as pending.
    public func trackPhases(of units: [(key: String, collection: String)]) {
        tracked = Dictionary(units.map { ($0.key, $0.collection) }, uniquingKeysWith: { first, _ in first })
        phaseCounts = [:]
        for (key, collection) in tracked {
            phaseCounts[collection, default: [:]][records[key]?.phase ?? .pending, default: 0] += 1
        }
        for (collection, counts) in phaseCounts {
            for phase in SegmentPhase.allCases {
                MigrationMetrics.units(collection: collection, phase: phase.rawValue, count: counts[phase] ?? 0)
            }
        }
    }

    private func count(_ collection: String, _ phase: SegmentPhase, _ delta: Int) {
        let count = (phaseCounts[collection]?[phase] ?? 0) + delta
        phaseCounts[collection, default: [:]][phase] = count
        MigrationMetrics.units(collection: collection, phase: phase.rawValue, count: count)
    }

    public func collection(_ name: String) -> CollectionRecord? { collectionRecords[name] }

    public func update(_ record: CollectionRecord) async throws {
        collectionRecords[record.name] = record
        try await persist()
    }

    private var lastWrite: Task<Void, any Error>?

    /// Writes are chained: each waits for the previous one and then writes the state current at
    /// that moment, so an older state never lands after a newer one (actor reentrancy).
    private func persist() async throws {
        let previous = lastWrite
        let staging = self.staging
        let write = Task {
            _ = await previous?.result
            let bytes = try await self.encoded()
            try await staging.writeSmallFile(self.name, bytes)
        }
        lastWrite = write
        try await write.value
    }

    private func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return [UInt8](try encoder.encode(File(version: 1, segments: all, collections: collectionRecords.values.sorted { $0.name < $1.name })))
    }
}
