import Foundation
import Logging

/// Step 0 of loading, once per collection: create the 2.x collection and its partitions, or
/// decide what to do with one that exists (this job's own: resume; another's: `onExisting`).
struct CollectionStep: Sendable {
    var target: any MigrationTarget
    var journal: JobJournal
    var options: PipelineOptions
    /// Where the journal lives, for messages.
    var stagingLocation: String
    /// Sharded runs: the other shards' journals (shard 0 decides, the others adopt).
    var peers: ShardPeers? = nil
    let logger = Logger(label: "milvus-migration.load")

    /// Creates (or checks) the collection and its partitions; false when it is to be skipped.
    /// `units` are the collection's segments (their journal records tell whether imports began).
    func prepare(_ c: SourceCollection, into name: String, units: [SegmentUnit]) async throws -> Bool {
        let schema = TargetSchema(idField: options.fields.id, vectorField: options.fields.vector, vectorKind: c.vectorKind, dimension: c.dimension)
        let exists = try await target.hasCollection(name)
        var own = await journal.collection(name)
        var startedImports = false
        for unit in units {
            if let phase = await journal.record(unit.key)?.phase, [.importing, .imported].contains(phase) { startedImports = true }
        }
        if own?.skipped == true { return false }
        if let peers, peers.shard.index > 0, !(exists && own != nil) {
            if own != nil && startedImports { throw missing(name) }
            return try await adoptShardZero(c, name: name, schema: schema, peers: peers)
        }
        if exists, own == nil, let peers, let record = try await peers.anyOtherRecord(name) {
            // Shard 0 lost its journal, but another shard of this job adopted the collection:
            // it is this job's, and onExisting (drop!) must not touch the other shards' rows.
            logger.notice("collection \(name): another shard of this job records it; continuing it")
            try await journal.update(record)
            if record.skipped == true { return false }
            own = record
        }
        if exists, own != nil {
            // This job's own collection: resuming.
            try await checkSchema(name, schema)
        } else if exists {
            switch options.onExisting {
            case .fail:
                throw MigrationError.target(.collectionExists, subject: "collection '\(name)'", message: "already exists in Milvus at \(target.endpoint); set target.milvus2x.onExisting to skip, append or drop")
            case .skip:
                if peers != nil {
                    // The other shards wait for this decision.
                    try await journal.update(CollectionRecord(name: name, createdByJob: false, rowsBefore: 0, updated: Date(), skipped: true))
                }
                return false
            case .append:
                try await checkSchema(name, schema)
                let before = try await target.rowCount(collection: name)
                try await journal.update(CollectionRecord(name: name, createdByJob: false, rowsBefore: before, updated: Date()))
            case .drop:
                logger.notice("dropping existing collection \(name) (onExisting: drop)")
                try await target.dropCollection(name)
                try await create(c, name: name, schema: schema)
            }
        } else {
            if own != nil && startedImports { throw missing(name) }
            try await create(c, name: name, schema: schema)
        }
        try await createPartitions(c, name: name)
        return true
    }

    func missing(_ name: String) -> MigrationError {
        .target(.collectionMissing, subject: "collection '\(name)'", message: "this job imported into it before, but it no longer exists in Milvus at \(target.endpoint); remove \(stagingLocation)/\(journal.name) to start the load over")
    }

    /// Creates the partitions that are missing. Shards create them at the same time: a creation
    /// that fails while the partition now exists is another shard's success.
    func createPartitions(_ c: SourceCollection, name: String) async throws {
        for p in c.partitions where !p.isDefault {
            if try await !target.hasPartition(name, p.name) {
                do {
                    try await target.createPartition(name, p.name)
                } catch let error as MigrationError {
                    guard try await target.hasPartition(name, p.name) else { throw error }
                }
            }
        }
    }

    /// Shards 1…N-1: wait until shard 0 has created the collection (or applied `onExisting` to
    /// it) and recorded that in its journal, then record the same: no shard but shard 0 ever
    /// creates, drops or skips a collection, and shard 0 does it before any shard imports.
    func adoptShardZero(_ c: SourceCollection, name: String, schema: TargetSchema, peers: ShardPeers) async throws -> Bool {
        let deadline = Date().addingTimeInterval(options.shardWaitTimeout)
        var told = false
        while true {
            if let record = try await peers.record(name, shard: 0) {
                if record.skipped == true {
                    try await journal.update(record)
                    return false
                }
                if try await target.hasCollection(name) {
                    try await checkSchema(name, schema)
                    try await journal.update(record)
                    try await createPartitions(c, name: name)
                    return true
                }
            }
            guard Date() < deadline else {
                throw MigrationError.target(.timedOut, subject: "collection '\(name)'", message: "shard \(peers.shard) waited \(Int(options.shardWaitTimeout)) s for shard 0 to prepare it (\(peers.location(of: 0)) has no record of it, or the collection is missing in Milvus at \(target.endpoint)); shard 0 creates every collection or applies onExisting to it: check shard 0's output")
            }
            if !told {
                logger.notice("collection \(name): waiting for shard 0 to prepare it")
                told = true
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    func create(_ c: SourceCollection, name: String, schema: TargetSchema) async throws {
        let description = "Migrated from Milvus \(c.version.isEmpty ? "1.x" : c.version) collection '\(c.name)' (metric \(c.metric?.name ?? "?"), index \(c.engine?.name ?? "?") \(c.indexParams)) by milvus-migration"
        do {
            try await target.createCollection(name, schema: schema, description: String(description.prefix(1000)), shards: options.shards)
        } catch let error as MigrationError {
            // Created meanwhile by someone else (another process of this job): the same schema is success.
            guard try await target.hasCollection(name) else { throw error }
            try await checkSchema(name, schema)
        }
        try await journal.update(CollectionRecord(name: name, createdByJob: true, rowsBefore: 0, updated: Date()))
    }

    func checkSchema(_ name: String, _ wanted: TargetSchema) async throws {
        let (found, text) = try await target.describeCollection(name)
        guard let found, found == wanted else {
            throw MigrationError.target(.schemaMismatch, subject: "collection '\(name)'", message: "exists with another schema: Milvus has [\(found?.description ?? text)], the migration needs [\(wanted)]")
        }
    }

    /// The last step, after the counts matched: the mapped index and the load, when asked for.
    /// Returns notes for the summary.
    func finish(_ c: SourceCollection, into name: String) async throws -> [String] {
        var notes: [String] = []
        if options.createIndex || options.loadCollection {
            let mapping = try IndexMapping.forCollection(c)
            if let note = mapping.note { notes.append(note) }
            try await target.createIndex(collection: name, field: options.fields.vector, indexType: mapping.indexType,
                                         metric: mapping.metric, params: mapping.params, timeout: options.importTimeout)
            notes.append("index \(mapping.indexType) \(mapping.metric) \(mapping.params)")
        }
        if options.loadCollection {
            try await target.loadCollection(name, timeout: options.importTimeout)
            notes.append("loaded")
        }
        return notes
    }
}
