import Foundation
import GRDB

/// Writes a Milvus 1.x db folder (`meta.sqlite` + `tables/`) the way 1.x does, so tests and the
/// `sample` command can build any scenario: float and binary collections, partitions, deletions in
/// the ≤ 1.1.0 (append) or ≥ 1.1.1 (rewrite) style, indexed segments (INDEX + BACKUP rows), rows
/// that are not live (NEW, TO_DELETE, …) and dropped collections. Byte layouts follow
/// docs/FORMAT.md §3; the meta follows §4 and the fixture recipe of §10.
///
/// Segment files are written as soon as a segment is added, streaming in chunks, so very large
/// datasets (benchmarks) need little memory. The meta is written by `finish()`.
public final class Milvus1xDatabase {
    /// Which SQLite DDL text the meta gets.
    public enum SchemaFlavor: Sendable {
        /// 0.10.4 and later (1.0, 1.1): the hand-written SQL (docs/FORMAT.md §4.2).
        case rawSQL
        /// 0.9.x – 0.10.3: sqlite_orm's generated DDL (quoted identifiers, another table order).
        case sqliteORM
    }

    public struct TableRow: Sendable {
        public var tableId: String
        public var state: Int64
        public var dimension: Int64
        public var createdOn: Int64
        public var flag: Int64
        public var indexFileSize: Int64
        public var engineType: Int64
        public var indexParams: String
        public var metricType: Int64
        public var ownerTable: String
        public var partitionTag: String
        public var version: String
    }

    public struct FileRow: Sendable {
        public var tableId: String
        public var segmentId: String
        public var engineType: Int64
        public var fileId: String
        public var fileType: Int64
        public var fileSize: Int64
        public var rowCount: Int64
        public var updatedTime: Int64
        public var createdOn: Int64
        public var date: Int64
    }

    /// The db folder: `meta.sqlite` and `tables/` go here.
    public let root: String
    /// The Milvus version string stored in the meta; ≥ "1.1.1" rewrites deleted_docs without duplicates.
    public let version: String
    public let flavor: SchemaFlavor
    public private(set) var tables: [TableRow] = []
    public private(set) var files: [FileRow] = []
    /// Whether segments get a `bloom_filter` (exact, but slow for huge segments).
    public var writesBloomFilter = true
    /// The fake clock (µs since the epoch) that generated ids and timestamps come from.
    private var clock: Int64

    public var metaPath: String { (root as NSString).appendingPathComponent("meta.sqlite") }
    public var tablesPath: String { (root as NSString).appendingPathComponent("tables") }

    /// - Parameters:
    ///   - startMicros: the first timestamp; ids are µs·1000 like 1.x's id generator.
    public init(root: String, version: String = "1.1.1", flavor: SchemaFlavor = .rawSQL, startMicros: Int64 = 1_625_097_600_000_000) throws {
        self.root = root
        self.version = version
        self.flavor = flavor
        self.clock = startMicros
        try FileManager.default.createDirectory(atPath: (root as NSString).appendingPathComponent("tables"), withIntermediateDirectories: true)
    }

    /// The next generated id (µs since the epoch × 1000), advancing the clock by 1 µs.
    public func nextGeneratedId() -> String {
        defer { clock += 1 }
        return String(clock * 1000)
    }

    private func tick() -> Int64 {
        defer { clock += 1 }
        return clock
    }

    var isDedupVersion: Bool {
        let parts = version.split(separator: ".").compactMap { Int($0) }
        return parts.lexicographicallyPrecedes([1, 1, 1]) == false
    }

    // MARK: Collections and partitions

    /// A root collection. `metric` 1–2 are float, 3–7 binary (dimension in bits).
    public func addCollection(_ name: String, dimension: Int, metric: Int64 = 1, engineType: Int64? = nil,
                              indexParams: String = "{}", flag: Int64 = 2, state: Int64 = 0,
                              indexFileSize: Int64 = 1_073_741_824) {
        let engine = engineType ?? (metric >= 3 ? 9 : 1)
        tables.append(TableRow(tableId: name, state: state, dimension: Int64(dimension), createdOn: tick(), flag: flag,
                               indexFileSize: indexFileSize, engineType: engine, indexParams: indexParams,
                               metricType: metric, ownerTable: "", partitionTag: "", version: version))
    }

    /// A partition of `collection` with a generated numeric table id; returns that id.
    @discardableResult
    public func addPartition(of collection: String, tag: String, state: Int64 = 0, tableId: String? = nil) -> String {
        guard let root = tables.first(where: { $0.tableId == collection }) else {
            preconditionFailure("addPartition: no collection \(collection)")
        }
        let id = tableId ?? nextGeneratedId()
        tables.append(TableRow(tableId: id, state: state, dimension: root.dimension, createdOn: tick(), flag: 0,
                               indexFileSize: root.indexFileSize, engineType: root.engineType, indexParams: root.indexParams,
                               metricType: root.metricType, ownerTable: collection, partitionTag: tag, version: version))
        return id
    }

    // MARK: Segments

    /// What happens to a segment's raw row.
    public enum SegmentState: Sendable {
        case raw
        case toIndex
        /// An index was built: an index file and an INDEX row are added, the raw row becomes BACKUP.
        case indexed(engineType: Int64)
        /// Not live: the row gets this file type (NEW, TO_DELETE, NEW_MERGE, NEW_INDEX).
        case notLive(fileType: Int64)
    }

    /// Writes a segment folder and records its meta rows.
    /// - Parameters:
    ///   - table: the owning table id (collection name or partition table id).
    ///   - rows: number of rows, deleted ones included.
    ///   - id: the id of row i.
    ///   - vector: fills the bytes of row i (`bytesPerRow` of them).
    ///   - deleteBatches: delete batches of row offsets, in the order they were applied.
    ///   - rowCountOverride: store this `row_count` instead of the computed live count.
    /// - Returns: the segment id.
    @discardableResult
    public func addSegment(table: String, rows: Int, id: (Int) -> Int64,
                           vector: (Int, UnsafeMutableRawBufferPointer) -> Void,
                           deleteBatches: [[Int32]] = [], state: SegmentState = .raw,
                           segmentId: String? = nil, rowCountOverride: Int64? = nil) throws -> String {
        guard let owner = tables.first(where: { $0.tableId == table }) else {
            preconditionFailure("addSegment: no table \(table)")
        }
        let bytesPerRow = owner.metricType >= 3 ? Int(owner.dimension) / 8 : 4 * Int(owner.dimension)
        let segment = segmentId ?? nextGeneratedId()
        let folder = segmentFolder(table: table, segment: segment)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)

        // .rv and .uid, streamed in chunks.
        try SegmentFileWriter.write(path: "\(folder)/\(segment).rv", payloadBytes: rows * bytesPerRow, rowBytes: bytesPerRow, rows: rows) { row, buffer in
            vector(row, buffer)
        }
        var ids: [Int64] = []
        let keepIds = writesBloomFilter || !deleteBatches.isEmpty
        try SegmentFileWriter.write(path: "\(folder)/\(segment).uid", payloadBytes: rows * 8, rowBytes: 8, rows: rows) { row, buffer in
            let value = id(row)
            if keepIds { ids.append(value) }
            buffer.storeBytes(of: value.littleEndian, as: Int64.self)
        }

        // deleted_docs: ≤ 1.1.0 appends every batch, ≥ 1.1.1 rewrites the list without duplicates.
        var offsets: [Int32] = []
        for batch in deleteBatches {
            for offset in batch where !(isDedupVersion && offsets.contains(offset)) { offsets.append(offset) }
        }
        var deleted = [UInt8]()
        appendLE(UInt64(offsets.count * 4), to: &deleted)
        for offset in offsets { appendLE(UInt32(bitPattern: offset), to: &deleted) }
        try Data(deleted).write(to: URL(fileURLWithPath: "\(folder)/deleted_docs"))

        if writesBloomFilter {
            var bloom = Milvus1xBloomFilter(flavor: isV1_1 ? .v1_1 : .v1_0, capacity: rows)
            for value in ids { bloom.add(value) }
            for offset in offsets where offset >= 0 && Int(offset) < rows { bloom.remove(ids[Int(offset)]) }
            try Data(bloom.serialized()).write(to: URL(fileURLWithPath: "\(folder)/bloom_filter"))
        }

        let live = Int64(rows - offsets.count)
        let created = tick()
        let updated = deleteBatches.isEmpty ? created : tick()
        var raw = FileRow(tableId: table, segmentId: segment, engineType: owner.engineType, fileId: segment, fileType: 1,
                          fileSize: Int64(rows * (bytesPerRow + 8)), rowCount: rowCountOverride ?? live,
                          updatedTime: updated, createdOn: created, date: Milvus1xDatabase.date(micros: created))
        switch state {
        case .raw:
            files.append(raw)
        case .toIndex:
            raw.fileType = 2
            files.append(raw)
        case .notLive(let fileType):
            raw.fileType = fileType
            files.append(raw)
        case .indexed(let engineType):
            raw.fileType = 7
            files.append(raw)
            let indexId = nextGeneratedId()
            let indexBytes = Milvus1xDatabase.indexFile(rows: rows)
            try Data(indexBytes).write(to: URL(fileURLWithPath: "\(folder)/\(indexId)"))
            let at = tick()
            files.append(FileRow(tableId: table, segmentId: segment, engineType: engineType, fileId: indexId, fileType: 3,
                                 fileSize: Int64(indexBytes.count), rowCount: rowCountOverride ?? live,
                                 updatedTime: at, createdOn: at, date: Milvus1xDatabase.date(micros: at)))
        }
        return segment
    }

    /// Convenience for small segments given as arrays: float rows.
    @discardableResult
    public func addSegment(table: String, ids: [Int64], floatRows: [[Float]], deleteBatches: [[Int32]] = [],
                           state: SegmentState = .raw, segmentId: String? = nil, rowCountOverride: Int64? = nil) throws -> String {
        try addSegment(table: table, rows: ids.count, id: { ids[$0] }, vector: { row, buffer in
            for (i, value) in floatRows[row].enumerated() {
                buffer.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
            }
        }, deleteBatches: deleteBatches, state: state, segmentId: segmentId, rowCountOverride: rowCountOverride)
    }

    /// Convenience for small segments given as arrays: binary rows (dimension/8 bytes each).
    @discardableResult
    public func addSegment(table: String, ids: [Int64], binaryRows: [[UInt8]], deleteBatches: [[Int32]] = [],
                           state: SegmentState = .raw, segmentId: String? = nil, rowCountOverride: Int64? = nil) throws -> String {
        try addSegment(table: table, rows: ids.count, id: { ids[$0] }, vector: { row, buffer in
            buffer.copyBytes(from: binaryRows[row])
        }, deleteBatches: deleteBatches, state: state, segmentId: segmentId, rowCountOverride: rowCountOverride)
    }

    /// A meta row with no folder (e.g. a NEW row whose files were never written).
    public func addFileRow(table: String, segmentId: String, fileType: Int64, rowCount: Int64 = 0, fileSize: Int64 = 0) {
        let at = tick()
        files.append(FileRow(tableId: table, segmentId: segmentId, engineType: 1, fileId: segmentId, fileType: fileType,
                             fileSize: fileSize, rowCount: rowCount, updatedTime: at, createdOn: at, date: Milvus1xDatabase.date(micros: at)))
    }

    public func segmentFolder(table: String, segment: String) -> String {
        "\(tablesPath)/\(table)/\(segment)"
    }

    var isV1_1: Bool {
        let parts = version.split(separator: ".").compactMap { Int($0) }
        return parts.lexicographicallyPrecedes([1, 1, 0]) == false
    }

    // MARK: Meta

    /// Writes `meta.sqlite` with the DDL of the chosen flavour, rows inserted positionally, WAL mode.
    public func finish() throws {
        try? FileManager.default.removeItem(atPath: metaPath)
        let queue = try DatabaseQueue(path: metaPath)
        try queue.writeWithoutTransaction { db in
            for statement in ddl { try db.execute(sql: statement) }
            try db.inTransaction {
                for (n, t) in tables.enumerated() {
                    try db.execute(sql: "INSERT INTO Tables VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", arguments: [
                        n + 1, t.tableId, t.state, t.dimension, t.createdOn, t.flag, t.indexFileSize, t.engineType,
                        t.indexParams, t.metricType, t.ownerTable, t.partitionTag, t.version, 0])
                }
                for (n, f) in files.enumerated() {
                    try db.execute(sql: "INSERT INTO TableFiles VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", arguments: [
                        n + 1, f.tableId, f.segmentId, f.engineType, f.fileId, f.fileType, f.fileSize, f.rowCount,
                        f.updatedTime, f.createdOn, f.date, 0])
                }
                return .commit
            }
            _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
        }
        try queue.close()
    }

    var ddl: [String] {
        switch flavor {
        case .rawSQL:
            return [
                "CREATE TABLE IF NOT EXISTS Environment(global_lsn INTEGER DEFAULT (0) NOT NULL);",
                "CREATE TABLE IF NOT EXISTS Tables(id INTEGER PRIMARY KEY NOT NULL,table_id TEXT UNIQUE NOT NULL,state INTEGER NOT NULL,dimension INTEGER NOT NULL,created_on INTEGER NOT NULL,flag INTEGER DEFAULT (0) NOT NULL,index_file_size INTEGER NOT NULL,engine_type INTEGER NOT NULL,index_params TEXT NOT NULL,metric_type INTEGER NOT NULL,owner_table TEXT DEFAULT ('') NOT NULL,partition_tag TEXT DEFAULT ('') NOT NULL,version TEXT DEFAULT ('\(version)') NOT NULL,flush_lsn INTEGER NOT NULL);",
                "CREATE TABLE IF NOT EXISTS TableFiles(id INTEGER PRIMARY KEY NOT NULL,table_id TEXT NOT NULL,segment_id TEXT DEFAULT ('') NOT NULL,engine_type INTEGER NOT NULL,file_id TEXT NOT NULL,file_type INTEGER NOT NULL,file_size INTEGER DEFAULT (0) NOT NULL,row_count INTEGER DEFAULT (0) NOT NULL,updated_time INTEGER NOT NULL,created_on INTEGER NOT NULL,date INTEGER NOT NULL,flush_lsn INTEGER NOT NULL);",
                "CREATE TABLE IF NOT EXISTS Fields(collection_id TEXT NOT NULL,field_name TEXT NOT NULL,field_type INTEGER NOT NULL,field_params TEXT NOT NULL);",
            ]
        case .sqliteORM:
            // sqlite_orm's sync_schema style: quoted names, constraints after the type, this table order.
            return [
                "CREATE TABLE 'Environment' ( 'global_lsn' INTEGER NOT NULL DEFAULT 0)",
                "CREATE TABLE 'Tables' ( 'id' INTEGER PRIMARY KEY NOT NULL , 'table_id' TEXT UNIQUE NOT NULL , 'state' INTEGER NOT NULL , 'dimension' INTEGER NOT NULL , 'created_on' INTEGER NOT NULL , 'flag' INTEGER NOT NULL DEFAULT 0, 'index_file_size' INTEGER NOT NULL , 'engine_type' INTEGER NOT NULL , 'index_params' TEXT NOT NULL , 'metric_type' INTEGER NOT NULL , 'owner_table' TEXT NOT NULL DEFAULT '', 'partition_tag' TEXT NOT NULL DEFAULT '', 'version' TEXT NOT NULL DEFAULT '\(version)', 'flush_lsn' INTEGER NOT NULL )",
                "CREATE TABLE 'Fields' ( 'collection_id' TEXT NOT NULL , 'field_name' TEXT NOT NULL , 'field_type' INTEGER NOT NULL , 'field_params' TEXT NOT NULL )",
                "CREATE TABLE 'TableFiles' ( 'id' INTEGER PRIMARY KEY NOT NULL , 'table_id' TEXT NOT NULL , 'segment_id' TEXT NOT NULL DEFAULT '', 'engine_type' INTEGER NOT NULL , 'file_id' TEXT NOT NULL , 'file_type' INTEGER NOT NULL , 'file_size' INTEGER NOT NULL DEFAULT 0, 'row_count' INTEGER NOT NULL DEFAULT 0, 'updated_time' INTEGER NOT NULL , 'created_on' INTEGER NOT NULL , 'date' INTEGER NOT NULL , 'flush_lsn' INTEGER NOT NULL )",
            ]
        }
    }

    /// `(year−1900)·10000 + (month−1)·100 + day` of a µs timestamp (UTC here; 1.x uses local time).
    static func date(micros: Int64) -> Int64 {
        var seconds = time_t(micros / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return Int64(parts.tm_year) * 10000 + Int64(parts.tm_mon) * 100 + Int64(parts.tm_mday)
    }

    /// A well-formed index file (docs/FORMAT.md §3.6): a FAISS_IDMAP type and one named blob.
    static func indexFile(rows: Int) -> [UInt8] {
        var out = [UInt8]()
        appendLE(UInt32(1), to: &out)
        let name = Array("IVF".utf8)
        appendLE(UInt64(name.count), to: &out)
        out += name
        let blob = [UInt8](repeating: 0xAB, count: 16)
        appendLE(UInt64(blob.count), to: &out)
        out += blob
        return out
    }
}

func appendLE<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
}

/// Streams `u64 nbytes` + rows into a file in 1 MiB chunks.
enum SegmentFileWriter {
    static func write(path: String, payloadBytes: Int, rowBytes: Int, rows: Int,
                      fill: (Int, UnsafeMutableRawBufferPointer) -> Void) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        var header = [UInt8]()
        appendLE(UInt64(payloadBytes), to: &header)
        try handle.write(contentsOf: header)
        let rowsPerChunk = max(1, (1 << 20) / max(1, rowBytes))
        var chunk = [UInt8](repeating: 0, count: rowsPerChunk * rowBytes)
        var row = 0
        while row < rows {
            let n = min(rowsPerChunk, rows - row)
            chunk.withUnsafeMutableBytes { buffer in
                for i in 0..<n {
                    fill(row + i, UnsafeMutableRawBufferPointer(rebasing: buffer[(i * rowBytes)..<((i + 1) * rowBytes)]))
                }
            }
            try handle.write(contentsOf: chunk[0..<(n * rowBytes)])
            row += n
        }
    }
}
