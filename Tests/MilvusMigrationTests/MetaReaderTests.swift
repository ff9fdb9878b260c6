import Foundation
import GRDB
import Testing
import Milvus1xFixture
@testable import MilvusMigration

@Suite struct MetaReaderTests {
    @Test func workedExampleModel() throws {
        let dir = TempDir()
        let db = try makeWorkedExample(at: dir.path, deleting: [[1]])
        let meta = MetaAssembler.assemble(try SQLiteMetaReader(path: db.metaPath).read())
        #expect(meta.diagnostics.isEmpty)
        #expect(meta.collections.count == 1)
        let c = try #require(meta.collections.first)
        #expect(c.name == "example" && c.dimension == 4 && c.metric == .l2 && c.vectorKind == .float && c.engine == .flat)
        #expect(c.partitions.count == 1 && c.partitions[0].name == "_default" && c.partitions[0].isDefault)
        #expect(c.segments.map(\.id) == [workedExampleSegment])
        #expect(c.segments[0].rowCount == 2 && c.segments[0].fileSize == 72)
        #expect(c.segments[0].totalRows(bytesPerRow: c.bytesPerRow) == 3)
    }

    @Test func partitionsAreGroupedAndNamesSanitized() throws {
        let dir = TempDir()
        let db = try Milvus1xDatabase(root: dir.path)
        db.addCollection("books", dimension: 8, metric: 2)
        let p1 = db.addPartition(of: "books", tag: "2023-Q1 sales")
        let p2 = db.addPartition(of: "books", tag: "9lives")
        let p3 = db.addPartition(of: "books", tag: "ok_name")
        for table in ["books", p1, p2, p3] {
            try db.addSegment(table: table, ids: [1, 2], floatRows: [[Float](repeating: 1, count: 8), [Float](repeating: 2, count: 8)])
        }
        try db.finish()
        let meta = MetaAssembler.assemble(try SQLiteMetaReader(path: db.metaPath).read())
        #expect(meta.diagnostics.isEmpty)
        let c = try #require(meta.collection(named: "books"))
        #expect(c.partitions.map(\.name) == ["_default", "_2023_Q1_sales", "_9lives", "ok_name"])
        #expect(c.partitions.map(\.tag) == [nil, "2023-Q1 sales", "9lives", "ok_name"])
        #expect(c.partitions[1].tableId == p1 && c.partitions[1].segments.count == 1)
        #expect(c.rows == 8)
        // Partitions do not appear as collections (the reference tool's defect).
        #expect(meta.collections.map(\.name) == ["books"])
    }

    @Test func sanitizingRules() {
        #expect(NameRules.partitionName(forTag: "a b/c") == "a_b_c")
        #expect(NameRules.partitionName(forTag: "1st") == "_1st")
        #expect(NameRules.partitionName(forTag: "") == "_")
        #expect(NameRules.partitionName(forTag: "día") == "d_a")
        #expect(NameRules.partitionName(forTag: String(repeating: "x", count: 300)).count == 255)
    }

    @Test func partitionNameCollisionShowsBothTags() throws {
        let dir = TempDir()
        let db = try Milvus1xDatabase(root: dir.path)
        db.addCollection("c", dimension: 8)
        db.addPartition(of: "c", tag: "a-b")
        db.addPartition(of: "c", tag: "a b")
        db.addPartition(of: "c", tag: "-default")
        try db.finish()
        let meta = MetaAssembler.assemble(try SQLiteMetaReader(path: db.metaPath).read())
        let errors = meta.diagnostics.errors.map(\.description)
        #expect(errors.count == 2)
        #expect(errors.contains { $0.contains("'a-b'") && $0.contains("'a b'") && $0.contains("a_b") })
        #expect(errors.contains { $0.contains("'-default'") && $0.contains("default partition") })
    }

    @Test func onlyLiveRowsAreRead() async throws {
        let dir = TempDir()
        let db = try Milvus1xDatabase(root: dir.path)
        db.addCollection("live", dimension: 8)
        db.addCollection("dropped", dimension: 8, state: 1)
        let row: [Float] = .init(repeating: 0.5, count: 8)
        let raw = try db.addSegment(table: "live", ids: [1], floatRows: [row])
        let toIndex = try db.addSegment(table: "live", ids: [2], floatRows: [row], state: .toIndex)
        let indexed = try db.addSegment(table: "live", ids: [3], floatRows: [row], state: .indexed(engineType: 2))
        for type: Int64 in [0, 4, 5, 6] {
            try db.addSegment(table: "live", ids: [9], floatRows: [row], state: .notLive(fileType: type))
        }
        try db.addSegment(table: "dropped", ids: [4], floatRows: [row], state: .notLive(fileType: 4))
        let droppedPartition = db.addPartition(of: "live", tag: "gone", state: 1)
        try db.addSegment(table: droppedPartition, ids: [5], floatRows: [row], state: .notLive(fileType: 4))
        try db.finish()

        let meta = MetaAssembler.assemble(try SQLiteMetaReader(path: db.metaPath).read())
        #expect(meta.diagnostics.isEmpty)
        #expect(meta.collections.map(\.name) == ["live"])
        let c = meta.collections[0]
        #expect(c.partitions.count == 1)
        // BACKUP + INDEX siblings: the segment is read once, through its BACKUP row.
        #expect(c.segments.map(\.id) == [raw, toIndex, indexed])
        #expect(c.segments.map(\.fileType) == [.raw, .toIndex, .backup])
        let plan = try await Planner(storage: LocalSourceStorage(root: db.tablesPath)).plan(meta)
        #expect(plan.isExecutable)
        #expect(plan.liveRows == 3)
    }

    @Test(arguments: [("0.10.2", Milvus1xDatabase.SchemaFlavor.sqliteORM), ("1.0.0", .rawSQL), ("1.1.1", .rawSQL)])
    func versionsReadAlike(version: String, flavor: Milvus1xDatabase.SchemaFlavor) async throws {
        let dir = TempDir()
        let db = try Milvus1xDatabase(root: dir.path, version: version, flavor: flavor)
        db.addCollection("v", dimension: 16, metric: 1)
        let tag = db.addPartition(of: "v", tag: "p")
        try db.addSegment(table: "v", rows: 50, id: { Int64($0) }, vector: { _, b in b.initializeMemory(as: UInt8.self, repeating: 1) }, deleteBatches: [[3, 1], [2]])
        try db.addSegment(table: tag, rows: 20, id: { Int64(100 + $0) }, vector: { _, b in b.initializeMemory(as: UInt8.self, repeating: 2) })
        try db.finish()
        let queue = try DatabaseQueue(path: db.metaPath)
        let ddl: String = try await queue.read { db in try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'Tables'") ?? "" }
        #expect(ddl.contains("'table_id'") == (flavor == .sqliteORM))
        let plan = try await planOf(db)
        #expect(plan.isExecutable)
        #expect(plan.collections[0].partitions.map(\.liveRows) == [47, 20])
        #expect(plan.collections[0].source.version == version)
    }

    @Test func unreadableSQLiteIsAClearError() throws {
        let dir = TempDir()
        let path = dir.sub("meta.sqlite")
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: path))
        #expect {
            try SQLiteMetaReader(path: path).read()
        } throws: { error in
            "\(error)".contains(path) && "\(error)".contains("not a SQLite database")
        }
        #expect(throws: MigrationError.meta(source: dir.sub("missing.sqlite"), message: "no such file")) {
            try SQLiteMetaReader(path: dir.sub("missing.sqlite")).read()
        }
        // A SQLite file without Milvus tables.
        let other = dir.sub("other.sqlite")
        try DatabaseQueue(path: other).write { try $0.execute(sql: "CREATE TABLE t(x)") }
        #expect {
            try SQLiteMetaReader(path: other).read()
        } throws: { "\($0)".contains("holds no Milvus 1.x meta") }
    }

    @Test func pathLikeIdsAreRejected() throws {
        let dir = TempDir()
        let db = try Milvus1xDatabase(root: dir.path)
        db.addCollection("good", dimension: 8)
        db.addFileRow(table: "good", segmentId: "../../etc", fileType: 1, rowCount: 1)
        db.addCollection("bad/../x", dimension: 8)
        db.addPartition(of: "good", tag: "t", tableId: "../p")
        try db.finish()
        let meta = MetaAssembler.assemble(try SQLiteMetaReader(path: db.metaPath).read())
        let errors = meta.diagnostics.errors.map(\.description)
        #expect(errors.count == 3)
        #expect(errors.contains { $0.contains("../../etc") && $0.contains("not a plain numeric id") })
        #expect(errors.contains { $0.contains("bad/../x") })
        #expect(errors.contains { $0.contains("../p") })
        #expect(meta.collections.map(\.name) == ["good"])
        #expect(meta.collections[0].segments.isEmpty)
    }

    @Test func dimensionProblems() throws {
        let dir = TempDir()
        let db = try Milvus1xDatabase(root: dir.path)
        db.addCollection("zero", dimension: 0)
        db.addCollection("bits", dimension: 12, metric: 3)
        db.addCollection("metric9", dimension: 8, metric: 9)
        try db.finish()
        let meta = MetaAssembler.assemble(try SQLiteMetaReader(path: db.metaPath).read())
        let errors = meta.diagnostics.errors.map(\.description)
        #expect(errors.contains { $0.contains("'zero'") && $0.contains("dimension 0 is not positive") })
        #expect(errors.contains { $0.contains("'bits'") && $0.contains("not a multiple of 8") })
        #expect(errors.contains { $0.contains("'metric9'") && $0.contains("unknown metric_type 9") })
        #expect(meta.collections.isEmpty)
    }
}

@Suite struct MetaJSONTests {
    @Test func referenceFormatIsRead() throws {
        let text = #"{"collections":[{"collection":"test1w","metric":1,"rows":10000,"dim":256,"segments":[{"collection":"test1w","segment":"1678354366132931000","dim":256,"rows":10000,"fileSize":10320000}]}],"rows":10000}"#
        let meta = try MetaJSON.decode(Data(text.utf8), origin: "meta.json")
        #expect(meta.diagnostics.isEmpty)
        let c = try #require(meta.collections.first)
        #expect(c.name == "test1w" && c.dimension == 256 && c.metric == .l2 && c.rows == 10000)
        #expect(c.segments.map(\.id) == ["1678354366132931000"])
        #expect(c.segments[0].fileSize == 10_320_000 && c.segments[0].totalRows(bytesPerRow: c.bytesPerRow) == 10000)
    }

    @Test func referenceFormatPartitionEntriesAreFlagged() throws {
        let text = #"{"collections":[{"collection":"1612530150221496000","metric":1,"rows":1,"dim":8,"segments":[]}],"rows":1}"#
        let meta = try MetaJSON.decode(Data(text.utf8), origin: "meta.json")
        #expect(meta.diagnostics.errors.count == 1)
        #expect(meta.diagnostics.errors[0].message.contains("looks like a 1.x partition"))
    }

    @Test func ourFormatRoundTripsTheModel() throws {
        let dir = TempDir()
        let summary = try SampleDatabase.write(root: dir.path, rowsPerSegment: 20)
        let meta = MetaAssembler.assemble(try SQLiteMetaReader(path: summary.metaPath).read())
        let text = MetaJSON.encode(meta)
        #expect(text.hasPrefix(#"{"collections":[{"collection":"fingerprints","metric":3,"rows":38,"dim":64,"segments":[{"collection":"fingerprints","segment":"#))
        let back = try MetaJSON.decode(Data(text.utf8), origin: meta.origin)
        #expect(back == meta)
        // The reference reader's fields are there for every segment, partition segments under their own table id.
        let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        let products = (json["collections"] as! [[String: Any]]).first { $0["collection"] as? String == "products" }!
        let segments = products["segments"] as! [[String: Any]]
        #expect(segments.count == 3)
        #expect(segments.allSatisfy { $0["segment"] is String && $0["dim"] as? Int == 16 && $0["rows"] is Int && $0["fileSize"] is Int })
        #expect(products["deletedRows"] as? Int == 4)
        #expect((products["partitions"] as! [[String: Any]]).map { $0["name"] as! String } == ["_default", "_2023_Q1"])
        #expect(json["rows"] as? Int == 38 + 56)
    }

    @Test func malformedJSONNamesTheProblem() {
        #expect { try MetaJSON.decode(Data("{\"collections\":[{\"metric\":1}]}".utf8), origin: "m.json") } throws: {
            "\($0)".contains("m.json") && "\($0)".contains("missing field 'collections[0].collection'")
        }
        #expect { try MetaJSON.decode(Data("nope".utf8), origin: "m.json") } throws: { "\($0)".contains("not valid JSON") }
    }
}
