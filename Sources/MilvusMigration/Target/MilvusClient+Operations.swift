import Foundation
import GRPCCore
import MilvusProto
import SwiftProtobuf

extension MilvusClient {
    public func version() async throws -> String {
        let r = try await call("GetVersion", subject: "Milvus at \(endpoint)", retry: true) {
            try await self.service.getVersion(.init(), metadata: self.metadata, options: self.callOptions())
        }
        try check(r.status, "GetVersion", subject: "Milvus at \(endpoint)")
        return r.version
    }

    public func hasCollection(_ name: String) async throws -> Bool {
        let db = database
        let r = try await call("HasCollection", subject: "collection '\(name)'", retry: true) {
            try await self.service.hasCollection(.with { $0.collectionName = name; $0.dbName = db }, metadata: self.metadata, options: self.callOptions())
        }
        try check(r.status, "HasCollection", subject: "collection '\(name)'")
        return r.value
    }

    public func createCollection(_ name: String, schema: TargetSchema, description: String, shards: Int) async throws {
        let db = database
        let proto = Milvus_Proto_Schema_CollectionSchema.with {
            $0.name = name
            $0.description_p = description
            $0.fields = [
                .with { $0.name = schema.idField; $0.dataType = .int64; $0.isPrimaryKey = true; $0.autoID = false },
                .with {
                    $0.name = schema.vectorField
                    $0.dataType = schema.vectorKind == .float ? .floatVector : .binaryVector
                    $0.typeParams = [.with { $0.key = "dim"; $0.value = String(schema.dimension) }]
                },
            ]
        }
        let bytes: Data = try proto.serializedBytes()
        let status = try await call("CreateCollection", subject: "collection '\(name)'", retry: false, ddl: true) {
            try await self.service.createCollection(.with {
                $0.collectionName = name
                $0.dbName = db
                $0.schema = bytes
                $0.shardsNum = Int32(shards)
                $0.consistencyLevel = .bounded
            }, metadata: self.metadata, options: self.callOptions(ddl: true))
        }
        try check(status, "CreateCollection", subject: "collection '\(name)'")
    }

    /// The schema of an existing collection in our terms, or nil when it has another shape
    /// (then `describeFields` says what it is).
    public func describeCollection(_ name: String) async throws -> (schema: TargetSchema?, fields: String) {
        let db = database
        let r = try await call("DescribeCollection", subject: "collection '\(name)'", retry: true) {
            try await self.service.describeCollection(.with { $0.collectionName = name; $0.dbName = db }, metadata: self.metadata, options: self.callOptions())
        }
        try check(r.status, "DescribeCollection", subject: "collection '\(name)'")
        let fields = r.schema.fields
        let text = fields.map { f in
            let dim = f.typeParams.first { $0.key == "dim" }.map { "(\($0.value))" } ?? ""
            return "\(f.name) \(f.dataType)\(dim)\(f.isPrimaryKey ? " primary key" : "")\(f.autoID ? " autoID" : "")"
        }.joined(separator: ", ")
        guard fields.count == 2,
              let pk = fields.first(where: { $0.isPrimaryKey }), pk.dataType == .int64,
              let vector = fields.first(where: { $0.dataType == .floatVector || $0.dataType == .binaryVector }),
              let dim = vector.typeParams.first(where: { $0.key == "dim" }).flatMap({ Int($0.value) }) else {
            return (nil, text)
        }
        return (TargetSchema(idField: pk.name, vectorField: vector.name, vectorKind: vector.dataType == .floatVector ? .float : .binary,
                             dimension: dim, autoID: pk.autoID), text)
    }

    public func dropCollection(_ name: String) async throws {
        let db = database
        let status = try await call("DropCollection", subject: "collection '\(name)'", retry: false, ddl: true) {
            try await self.service.dropCollection(.with { $0.collectionName = name; $0.dbName = db }, metadata: self.metadata, options: self.callOptions(ddl: true))
        }
        try check(status, "DropCollection", subject: "collection '\(name)'")
    }

    public func hasPartition(_ collection: String, _ partition: String) async throws -> Bool {
        let db = database
        let r = try await call("HasPartition", subject: "collection '\(collection)' partition '\(partition)'", retry: true) {
            try await self.service.hasPartition(.with { $0.collectionName = collection; $0.partitionName = partition; $0.dbName = db }, metadata: self.metadata, options: self.callOptions())
        }
        try check(r.status, "HasPartition", subject: "collection '\(collection)' partition '\(partition)'")
        return r.value
    }

    public func createPartition(_ collection: String, _ partition: String) async throws {
        let db = database
        let status = try await call("CreatePartition", subject: "collection '\(collection)' partition '\(partition)'", retry: false, ddl: true) {
            try await self.service.createPartition(.with { $0.collectionName = collection; $0.partitionName = partition; $0.dbName = db }, metadata: self.metadata, options: self.callOptions(ddl: true))
        }
        try check(status, "CreatePartition", subject: "collection '\(collection)' partition '\(partition)'")
    }

    /// Starts one bulk-insert task. Never retried automatically: a lost answer is resolved by
    /// `listImportTasks` on resume, so no file is imported twice.
    public func startImport(collection: String, partition: String?, files: [String], subject: String) async throws -> Int64 {
        let db = database
        let r = try await call("Import", subject: subject, retry: false, ddl: true) {
            try await self.service.import(.with {
                $0.collectionName = collection
                if let partition { $0.partitionName = partition }
                $0.files = files
                $0.dbName = db
            }, metadata: self.metadata, options: self.callOptions(ddl: true))
        }
        try check(r.status, "Import", subject: subject)
        guard let task = r.tasks.first else {
            throw MigrationError.target(.badAnswer, subject: subject, message: "Import returned no task")
        }
        return task
    }

    public func importState(_ task: Int64, subject: String) async throws -> ImportTaskStatus {
        let r = try await call("GetImportState", subject: subject, retry: true) {
            try await self.service.getImportState(.with { $0.task = task }, metadata: self.metadata, options: self.callOptions())
        }
        try check(r.status, "GetImportState", subject: subject)
        return MilvusClient.taskStatus(r)
    }

    public func listImportTasks(collection: String) async throws -> [ImportTaskStatus] {
        let db = database
        let r = try await call("ListImportTasks", subject: "collection '\(collection)'", retry: true) {
            try await self.service.listImportTasks(.with { $0.collectionName = collection; $0.limit = 0; $0.dbName = db }, metadata: self.metadata, options: self.callOptions())
        }
        try check(r.status, "ListImportTasks", subject: "collection '\(collection)'")
        return r.tasks.map(MilvusClient.taskStatus)
    }

    static func taskStatus(_ r: Milvus_Proto_Milvus_GetImportStateResponse) -> ImportTaskStatus {
        let state: ImportTaskStatus.State
        switch r.state.rawValue {
        case 0: state = .pending
        case 1, 7: state = .failed
        case 2: state = .started
        case 5: state = .persisted
        case 6: state = .completed
        case 8: state = .flushed
        case let n: state = .unknown(n)
        }
        func info(_ key: String) -> String { r.infos.first { $0.key == key }?.value ?? "" }
        let reason = info("failed_reason")
        return ImportTaskStatus(id: r.id, state: state, rows: r.rowCount, failedReason: reason,
                                failure: state == .failed ? importFailure(reason) : nil,
                                files: info("files").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
                                collection: info("collection"), partition: info("partition"),
                                progress: info("progress_percent"), createdAt: r.createTs)
    }

    /// The kind of an import task's `failed_reason`: Milvus 2.3 reports files it cannot read
    /// with the storage layer's text ("no such file" from local storage, "does not exist" from
    /// MinIO/S3, "failed to get file size" from the import's first look at a file); the server
    /// has no code for it.
    static func importFailure(_ reason: String) -> ImportFailureKind? {
        if reason.contains("no such file") || reason.contains("does not exist") || reason.contains("failed to get file size") {
            return .filesMissing
        }
        return nil
    }

    /// Flush, then waits (GetFlushState) until the sealed segments are persisted, so the
    /// statistics count every row. Returns each collection's flush timestamp (absent when the
    /// server reports none): every row written before the flush is older.
    @discardableResult
    public func flush(_ collections: [String], timeout: Double) async throws -> [String: UInt64] {
        let db = database
        let subject = "collections \(collections.joined(separator: ", "))"
        let r = try await call("Flush", subject: subject, retry: true, ddl: true) {
            try await self.service.flush(.with { $0.collectionNames = collections; $0.dbName = db }, metadata: self.metadata, options: self.callOptions(ddl: true))
        }
        try check(r.status, "Flush", subject: subject)
        let deadline = Date().addingTimeInterval(timeout)
        for collection in collections {
            let segments = r.collSegIds[collection]?.data ?? []
            let flushTs = r.collFlushTs[collection] ?? 0
            var delay = 0.1
            while true {
                let state = try await call("GetFlushState", subject: "collection '\(collection)'", retry: true) {
                    try await self.service.getFlushState(.with {
                        $0.segmentIds = segments
                        $0.flushTs = flushTs
                        $0.dbName = db
                        $0.collectionName = collection
                    }, metadata: self.metadata, options: self.callOptions())
                }
                try check(state.status, "GetFlushState", subject: "collection '\(collection)'")
                if state.flushed { break }
                guard Date() < deadline else {
                    throw MigrationError.target(.timedOut, subject: "collection '\(collection)'", message: "flush not finished after \(Int(timeout)) s")
                }
                try await Task.sleep(for: .seconds(delay))
                delay = min(delay * 1.5, 1)
            }
        }
        return r.collFlushTs.filter { $0.value > 0 }
    }

    public func rowCount(collection: String) async throws -> Int64 {
        let db = database
        let r = try await call("GetCollectionStatistics", subject: "collection '\(collection)'", retry: true) {
            try await self.service.getCollectionStatistics(.with { $0.collectionName = collection; $0.dbName = db }, metadata: self.metadata, options: self.callOptions())
        }
        try check(r.status, "GetCollectionStatistics", subject: "collection '\(collection)'")
        return Int64(r.stats.first { $0.key == "row_count" }?.value ?? "") ?? 0
    }

    public func rowCount(collection: String, partition: String) async throws -> Int64 {
        let db = database
        let subject = "collection '\(collection)' partition '\(partition)'"
        let r = try await call("GetPartitionStatistics", subject: subject, retry: true) {
            try await self.service.getPartitionStatistics(.with { $0.collectionName = collection; $0.partitionName = partition; $0.dbName = db }, metadata: self.metadata, options: self.callOptions())
        }
        try check(r.status, "GetPartitionStatistics", subject: subject)
        return Int64(r.stats.first { $0.key == "row_count" }?.value ?? "") ?? 0
    }

    /// CreateIndex, then waits until the index is built.
    public func createIndex(collection: String, field: String, indexType: String, metric: String, params: String, timeout: Double) async throws {
        let db = database
        let subject = "collection '\(collection)' index \(indexType)"
        let status = try await call("CreateIndex", subject: subject, retry: false, ddl: true) {
            try await self.service.createIndex(.with {
                $0.collectionName = collection
                $0.dbName = db
                $0.fieldName = field
                $0.extraParams = [
                    .with { $0.key = "index_type"; $0.value = indexType },
                    .with { $0.key = "metric_type"; $0.value = metric },
                    .with { $0.key = "params"; $0.value = params },
                ]
            }, metadata: self.metadata, options: self.callOptions(ddl: true))
        }
        try check(status, "CreateIndex", subject: subject)
        let deadline = Date().addingTimeInterval(timeout)
        var delay = 0.2
        while Date() < deadline {
            let r = try await call("DescribeIndex", subject: subject, retry: true) {
                try await self.service.describeIndex(.with { $0.collectionName = collection; $0.dbName = db; $0.fieldName = field }, metadata: self.metadata, options: self.callOptions())
            }
            try check(r.status, "DescribeIndex", subject: subject)
            if let d = r.indexDescriptions.first {
                if d.state == .finished && d.pendingIndexRows == 0 { return }
                if d.state == .failed { throw MigrationError.target(.refused, subject: subject, message: "index build failed: \(d.indexStateFailReason)", serverReason: d.indexStateFailReason) }
            }
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 1.5, 2)
        }
        throw MigrationError.target(.timedOut, subject: subject, message: "index not built after \(Int(timeout)) s")
    }

    /// Whether the vector field has an index (DescribeIndex answers "index not found" otherwise).
    public func hasIndex(collection: String, field: String) async throws -> Bool {
        let db = database
        let subject = "collection '\(collection)'"
        let r = try await call("DescribeIndex", subject: subject, retry: true) {
            try await self.service.describeIndex(.with { $0.collectionName = collection; $0.dbName = db; $0.fieldName = field }, metadata: self.metadata, options: self.callOptions())
        }
        if r.status.code == 0 && r.status.errorCode == .success { return !r.indexDescriptions.isEmpty }
        if r.status.errorCode == .indexNotExist || r.status.reason.lowercased().contains("index not") { return false }
        try check(r.status, "DescribeIndex", subject: subject)
        return false
    }

    /// LoadCollection, then waits for 100 % loading progress.
    public func loadCollection(_ collection: String, timeout: Double) async throws {
        let db = database
        let subject = "collection '\(collection)'"
        let status = try await call("LoadCollection", subject: subject, retry: false, ddl: true) {
            try await self.service.loadCollection(.with { $0.collectionName = collection; $0.dbName = db }, metadata: self.metadata, options: self.callOptions(ddl: true))
        }
        try check(status, "LoadCollection", subject: subject)
        let deadline = Date().addingTimeInterval(timeout)
        var delay = 0.2
        while Date() < deadline {
            let r = try await call("GetLoadingProgress", subject: subject, retry: true) {
                try await self.service.getLoadingProgress(.with { $0.collectionName = collection; $0.dbName = db }, metadata: self.metadata, options: self.callOptions())
            }
            try check(r.status, "GetLoadingProgress", subject: subject)
            if r.progress >= 100 { return }
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 1.5, 2)
        }
        throw MigrationError.target(.timedOut, subject: subject, message: "not loaded after \(Int(timeout)) s")
    }

    /// Rows by id: (id, vector bytes) with vectors as stored (LE float32 or packed bits).
    /// The rows with `ids`. With `seenAt` (a flush timestamp) the query must see every row
    /// written before it and waits for nothing newer (consistency `Customized`); without it the
    /// query is `Strong`, which waits for the server's next time tick (up to ~200 ms a query).
    public func query(collection: String, idField: String, vectorField: String, ids: [Int64], partitions: [String] = [],
                      seenAt: UInt64? = nil) async throws -> [(Int64, [UInt8])] {
        let db = database
        let subject = "collection '\(collection)'"
        let expr = "\(idField) in [\(ids.map(String.init).joined(separator: ","))]"
        let r = try await call("Query", subject: subject, retry: true) {
            try await self.service.query(.with {
                $0.collectionName = collection
                $0.dbName = db
                $0.expr = expr
                $0.outputFields = [idField, vectorField]
                $0.partitionNames = partitions
                if let seenAt, seenAt > 0 {
                    $0.consistencyLevel = .customized
                    $0.guaranteeTimestamp = seenAt
                } else {
                    $0.consistencyLevel = .strong
                }
            }, metadata: self.metadata, options: self.callOptions(ddl: true))
        }
        try check(r.status, "Query", subject: subject)
        guard let idData = r.fieldsData.first(where: { $0.fieldName == idField }),
              let vectorData = r.fieldsData.first(where: { $0.fieldName == vectorField }) else { return [] }
        return try QueryRows.decode(ids: idData.scalars.longData.data, vectors: vectorData.vectors, subject: subject)
    }

    /// `count(*)` with Strong consistency (needs a loaded collection).
    public func countRows(collection: String, partitions: [String] = []) async throws -> Int64 {
        let db = database
        let subject = "collection '\(collection)'"
        let r = try await call("Query", subject: subject, retry: true) {
            try await self.service.query(.with {
                $0.collectionName = collection
                $0.dbName = db
                $0.expr = ""
                $0.outputFields = ["count(*)"]
                $0.partitionNames = partitions
                $0.consistencyLevel = .strong
            }, metadata: self.metadata, options: self.callOptions(ddl: true))
        }
        try check(r.status, "Query", subject: subject)
        return r.fieldsData.first?.scalars.longData.data.first ?? 0
    }

    /// Deletes by id (tests use it to alter a migrated collection on purpose).
    /// Insert of one batch (columnar: Int64 ids, float or binary vectors); returns `insert_cnt`.
    public func insert(collection: String, partition: String?, fields: FieldNames, batch: RowBatch, subject: String) async throws -> Int64 {
        let db = database
        let idData = Milvus_Proto_Schema_FieldData.with {
            $0.fieldName = fields.id
            $0.type = .int64
            $0.scalars = .with { $0.longData = .with { $0.data = batch.ids } }
        }
        let vectorData = Milvus_Proto_Schema_FieldData.with { f in
            f.fieldName = fields.vector
            switch batch.vectors {
            case .float(let values):
                f.type = .floatVector
                f.vectors = .with { $0.dim = Int64(batch.dimension); $0.floatVector = .with { $0.data = values } }
            case .binary(let bytes):
                f.type = .binaryVector
                f.vectors = .with { $0.dim = Int64(batch.dimension); $0.binaryVector = bytes }
            }
        }
        let rows = batch.rows
        let service = try await inserts.service(sending: batch.vectorBytes + 8 * rows)
        let r = try await call("Insert", subject: subject, retry: false, ddl: true) {
            try await service.insert(.with {
                $0.dbName = db
                $0.collectionName = collection
                if let partition { $0.partitionName = partition }
                $0.numRows = UInt32(rows)
                $0.fieldsData = [idData, vectorData]
            }, metadata: self.metadata, options: self.callOptions(ddl: true))
        }
        try check(r.status, "Insert", subject: subject)
        return r.insertCnt
    }
}
