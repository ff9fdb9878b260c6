import Foundation

/// What the pipeline needs from a Milvus 2.x server, and nothing more: the seam between the
/// migration's logic (onExisting, resume, settling open imports, count checks) and a server.
/// `MilvusClient` implements it over gRPC; the unit tests use an in-memory implementation to
/// exercise that logic in milliseconds, while the tests against a real Milvus stay the judge.
/// A new way of loading (e.g. `Insert` instead of `Import`) plugs in here.
///
/// Every method throws `MigrationError` (`.target` with a `TargetFailure.Kind` code can switch on).
public protocol MigrationTarget: Sendable {
    /// The server as named in messages (`host:port`).
    var endpoint: String { get }

    // Collections and partitions.
    func hasCollection(_ name: String) async throws -> Bool
    /// The collection's schema when it has the shape a migration creates (nil otherwise), and
    /// its fields as text for messages.
    func describeCollection(_ name: String) async throws -> (schema: TargetSchema?, fields: String)
    func createCollection(_ name: String, schema: TargetSchema, description: String, shards: Int) async throws
    func dropCollection(_ name: String) async throws
    func hasPartition(_ collection: String, _ partition: String) async throws -> Bool
    func createPartition(_ collection: String, _ partition: String) async throws

    // Bulk import of staged files.
    /// Starts one import task of `files` (paths as the server resolves them) into the partition
    /// (nil: the default one); returns the task id. Never retried by callers: a lost answer is
    /// settled from `listImportTasks` or the row counts.
    func startImport(collection: String, partition: String?, files: [String], subject: String) async throws -> Int64
    func importState(_ task: Int64, subject: String) async throws -> ImportTaskStatus
    /// The import tasks the server remembers for a collection.
    func listImportTasks(collection: String) async throws -> [ImportTaskStatus]

    // Counts.
    /// Seals what was written, so the row counts that follow include every row.
    func flush(_ collections: [String]) async throws
    func rowCount(collection: String) async throws -> Int64
    func rowCount(collection: String, partition: String) async throws -> Int64

    // After the data is in.
    func createIndex(collection: String, field: String, indexType: String, metric: String, params: String, timeout: Double) async throws
    func loadCollection(_ collection: String, timeout: Double) async throws
}

/// The 2.x schema of a migrated collection: an Int64 primary key (autoID off, so the 1.x ids
/// are kept) and one vector field.
public struct TargetSchema: Sendable, Equatable, CustomStringConvertible {
    public var idField: String
    public var vectorField: String
    public var vectorKind: VectorKind
    /// Bits for binary vectors.
    public var dimension: Int
    public var autoID = false

    public init(idField: String, vectorField: String, vectorKind: VectorKind, dimension: Int, autoID: Bool = false) {
        self.idField = idField
        self.vectorField = vectorField
        self.vectorKind = vectorKind
        self.dimension = dimension
        self.autoID = autoID
    }

    public var description: String {
        "\(idField) Int64 primary key\(autoID ? " autoID" : ""), \(vectorField) \(vectorKind == .float ? "FloatVector" : "BinaryVector")(\(dimension))"
    }
}

/// One import task as the server reports it.
public struct ImportTaskStatus: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case pending, started, persisted, flushed, completed, failed
        case unknown(Int)

        public var isFinal: Bool { self == .completed || self == .failed }
    }

    public var id: Int64
    public var state: State
    public var rows: Int64
    public var failedReason: String
    public var files: [String]
    public var collection: String
    public var partition: String
    /// `progress_percent` as the server reports it ("" when absent).
    public var progress = ""
    /// When the server created the task (seconds since 1970; 0 when not reported).
    public var createdAt: Int64 = 0
}

extension MilvusClient: MigrationTarget {
    public func flush(_ collections: [String]) async throws {
        try await flush(collections, timeout: 120)
    }
}
