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

    // Insert mode: rows sent in requests, no shared storage.
    /// What the server is and how it keeps rows (asked once per job).
    func capabilities() async throws -> TargetCapabilities
    /// Inserts one batch of rows into the partition (nil: the default one) and returns the rows
    /// the server acknowledged. Not retried by callers: a lost answer is settled from the counts.
    func insert(collection: String, partition: String?, fields: FieldNames, batch: RowBatch, subject: String) async throws -> Int64

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
    /// What `failedReason` means, for code to switch on (nil: not a failure the pipeline treats
    /// differently). Set by the target that reads the server's text (`MilvusClient`).
    public var failure: ImportFailureKind? = nil
    public var files: [String]
    public var collection: String
    public var partition: String
    /// `progress_percent` as the server reports it ("" when absent).
    public var progress = ""
    /// When the server created the task (seconds since 1970; 0 when not reported).
    public var createdAt: Int64 = 0
}

/// Why an import task failed, as far as the pipeline acts on it. Like `TargetFailure.Kind`, a
/// struct: new kinds do not break callers.
public struct ImportFailureKind: Hashable, Sendable, CustomStringConvertible {
    private let name: String
    private init(_ name: String) { self.name = name }
    public var description: String { name }

    /// The server cannot find the staged files: it does not read the storage they were staged
    /// into (a local folder it does not see, or a bucket other than its own).
    public static let filesMissing = ImportFailureKind("filesMissing")
}

extension MilvusClient: MigrationTarget {
    public func flush(_ collections: [String]) async throws {
        try await flush(collections, timeout: 120)
    }

    public func capabilities() async throws -> TargetCapabilities {
        TargetCapabilities.of(version: try await version())
    }
}

/// What a target server is and how it keeps rows: the differences the pipeline must apply.
public struct TargetCapabilities: Sendable, Equatable {
    /// How many rows the server keeps for inserted rows that share a primary key.
    public enum RowRule: Sendable, Equatable, CustomStringConvertible {
        /// Every inserted row is kept (Milvus 2.x): counts compare with the source's live rows.
        case everyRow
        /// One row per primary key across the collection, the last write (Milvus Lite 3.x):
        /// counts compare with the source's distinct ids, partitions are not compared.
        case onePerPrimaryKey

        public var description: String {
            switch self {
            case .everyRow: return "every inserted row is kept"
            case .onePerPrimaryKey: return "one row per primary key"
            }
        }
    }

    /// `GetVersion`'s answer.
    public var version: String
    public var rowRule: RowRule
    public var binaryVectors: Bool
    /// Whether the server has the bulk `Import` RPCs.
    public var bulkImport: Bool

    public init(version: String, rowRule: RowRule = .everyRow, binaryVectors: Bool = true, bulkImport: Bool = true) {
        self.version = version
        self.rowRule = rowRule
        self.binaryVectors = binaryVectors
        self.bulkImport = bulkImport
    }

    /// The capabilities implied by a `GetVersion` answer: Milvus Lite 3.x answers
    /// `milvus_lite-<version>` (the embedded 2.3.5 server answers `v2.3.5-lite`, a full Milvus).
    public static func of(version: String) -> TargetCapabilities {
        if version.hasPrefix("milvus_lite") {
            return TargetCapabilities(version: version, rowRule: .onePerPrimaryKey, binaryVectors: false, bulkImport: false)
        }
        return TargetCapabilities(version: version)
    }
}

/// One batch of rows for `Insert`, columnar, in the form the request carries them: Int64 ids
/// and float32 values or packed bits (built once from the source bytes, no further copy).
public struct RowBatch: Sendable {
    public enum Vectors: Sendable {
        case float([Float])
        case binary(Data)
    }

    public var ids: [Int64]
    public var vectors: Vectors
    /// Floats, or bits for binary vectors.
    public var dimension: Int

    public init(ids: [Int64], vectors: Vectors, dimension: Int) {
        self.ids = ids
        self.vectors = vectors
        self.dimension = dimension
    }

    /// Rows from the little-endian bytes of a segment's `.uid` and `.rv`/`.rb` rows.
    public init(idBytes: UnsafeRawBufferPointer, vectorBytes: UnsafeRawBufferPointer, kind: VectorKind, dimension: Int) {
        let count = idBytes.count / 8
        ids = [Int64](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = Int64(littleEndian: idBytes.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
            initialized = count
        }
        switch kind {
        case .float:
            let floats = vectorBytes.count / 4
            vectors = .float([Float](unsafeUninitializedCapacity: floats) { buffer, initialized in
                for i in 0..<floats {
                    buffer[i] = Float(bitPattern: UInt32(littleEndian: vectorBytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                }
                initialized = floats
            })
        case .binary:
            vectors = .binary(Data(vectorBytes))
        }
        self.dimension = dimension
    }

    public var rows: Int { ids.count }
    public var kind: VectorKind {
        if case .float = vectors { return .float }
        return .binary
    }
    /// Bytes of the vectors as they travel.
    public var vectorBytes: Int {
        switch vectors {
        case .float(let values): return values.count * 4
        case .binary(let data): return data.count
        }
    }
}

/// The 2.x field names (`target.milvus2x.idField` / `vectorField`).
public struct FieldNames: Sendable, Equatable {
    public var id: String
    public var vector: String

    public init(id: String = "id", vector: String = "data") {
        self.id = id
        self.vector = vector
    }
}
