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
    let logger = Logger(label: "milvus-migration.load")

    /// Creates (or checks) the collection and its partitions; false when it is to be skipped.
    /// `units` are the collection's segments (their journal records tell whether imports began).
    func prepare(_ c: SourceCollection, into name: String, units: [SegmentUnit]) async throws -> Bool {
        let schema = TargetSchema(idField: options.fields.id, vectorField: options.fields.vector, vectorKind: c.vectorKind, dimension: c.dimension)
        let exists = try await target.hasCollection(name)
        let own = await journal.collection(name)
        var startedImports = false
        for unit in units {
            if let phase = await journal.record(unit.key)?.phase, [.importing, .imported, .verified].contains(phase) { startedImports = true }
        }
        if exists, own != nil {
            // This job's own collection: resuming.
            try await checkSchema(name, schema)
        } else if exists {
            switch options.onExisting {
            case .fail:
                throw MigrationError.target(.collectionExists, subject: "collection '\(name)'", message: "already exists in Milvus at \(target.endpoint); set target.milvus2x.onExisting to skip, append or drop")
            case .skip:
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
            if own != nil && startedImports {
                throw MigrationError.target(.collectionMissing, subject: "collection '\(name)'", message: "this job imported into it before, but it no longer exists in Milvus at \(target.endpoint); remove \(stagingLocation)/\(JobJournal.fileName) to start the load over")
            }
            try await create(c, name: name, schema: schema)
        }
        for p in c.partitions where !p.isDefault {
            if try await !target.hasPartition(name, p.name) {
                try await target.createPartition(name, p.name)
            }
        }
        return true
    }

    func create(_ c: SourceCollection, name: String, schema: TargetSchema) async throws {
        let description = "Migrated from Milvus \(c.version.isEmpty ? "1.x" : c.version) collection '\(c.name)' (metric \(c.metric?.name ?? "?"), index \(c.engine?.name ?? "?") \(c.indexParams)) by milvus-migration"
        try await target.createCollection(name, schema: schema, description: String(description.prefix(1000)), shards: options.shards)
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
