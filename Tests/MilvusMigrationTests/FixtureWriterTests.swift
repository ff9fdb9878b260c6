import Foundation
import GRDB
import Testing
@testable import Milvus1xFixture

/// The fixture writer must reproduce the spec's worked examples byte for byte.
@Suite struct FixtureWriterTests {
    @Test func workedExampleSegmentFilesMatchSpec() throws {
        let dir = TempDir()
        let db = try makeWorkedExample(at: dir.path)
        let folder = db.segmentFolder(table: "example", segment: workedExampleSegment)
        #expect(try readBytes("\(folder)/\(workedExampleSegment).rv") == hex("""
            30 00 00 00 00 00 00 00 00 00 80 3f 00 00 00 40
            00 00 40 40 00 00 80 40 00 00 00 3f 00 00 00 00
            00 00 80 bf 00 00 00 40 00 00 80 3e 00 00 00 c0
            00 00 00 41 00 00 c0 3f
            """))
        #expect(try readBytes("\(folder)/\(workedExampleSegment).uid") == hex("""
            18 00 00 00 00 00 00 00 0a 00 00 00 00 00 00 00
            0b 00 00 00 00 00 00 00 0c 00 00 00 00 00 00 00
            """))
        #expect(try readBytes("\(folder)/deleted_docs") == hex("00 00 00 00 00 00 00 00"))
        #expect(try readBytes("\(folder)/bloom_filter") == hex("""
            62 6c 6f 6f 6d 5f 30 00 03 00 00 00 7b 14 ae 47
            e1 7a 84 3f 3c 00 00 00 00 00 00 00 0c 00 00 00
            00 00 00 00 04 00 00 00 00 00 00 00 00 00 00 00
            00 00 00 00 00 00 00 00 00 00 00 00 03 00 00 00
            00 00 00 00 00 10 20 11 10 20 10 00 10 11 11 01
            01 01 01 01 02 01 11 00
            """))
    }

    @Test func workedExampleAfterDeletingId11() throws {
        let dir = TempDir()
        let db = try makeWorkedExample(at: dir.path, deleting: [[1]])
        let folder = db.segmentFolder(table: "example", segment: workedExampleSegment)
        #expect(try readBytes("\(folder)/deleted_docs") == hex("04 00 00 00 00 00 00 00 01 00 00 00"))
        let bloom = try readBytes("\(folder)/bloom_filter")
        #expect(Array(bloom[0x20..<0x58]) == hex("""
            00 00 00 00 05 00 00 00 00 00 00 00 00 00 00 00
            00 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00
            00 00 00 00 00 10 10 10 10 10 10 00 10 01 10 01
            00 01 01 01 01 01 01 00
            """))
        let row = try DatabaseQueue(path: db.metaPath).read { db in
            try Row.fetchOne(db, sql: "SELECT row_count, file_size, file_type, date FROM TableFiles")!
        }
        #expect(row["row_count"] as Int64 == 2)
        #expect(row["file_size"] as Int64 == 72)
        #expect(row["file_type"] as Int64 == 1)
        #expect(row["date"] as Int64 == 1_210_601)
    }

    @Test func metaSchemaTextAndRowsMatchSpec() throws {
        let dir = TempDir()
        let db = try makeWorkedExample(at: dir.path)
        let queue = try DatabaseQueue(path: db.metaPath)
        let ddl = try queue.read { try String.fetchAll($0, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid") }
        #expect(ddl == [
            "CREATE TABLE Environment(global_lsn INTEGER DEFAULT (0) NOT NULL)",
            "CREATE TABLE Tables(id INTEGER PRIMARY KEY NOT NULL,table_id TEXT UNIQUE NOT NULL,state INTEGER NOT NULL,dimension INTEGER NOT NULL,created_on INTEGER NOT NULL,flag INTEGER DEFAULT (0) NOT NULL,index_file_size INTEGER NOT NULL,engine_type INTEGER NOT NULL,index_params TEXT NOT NULL,metric_type INTEGER NOT NULL,owner_table TEXT DEFAULT ('') NOT NULL,partition_tag TEXT DEFAULT ('') NOT NULL,version TEXT DEFAULT ('1.1.1') NOT NULL,flush_lsn INTEGER NOT NULL)",
            "CREATE TABLE TableFiles(id INTEGER PRIMARY KEY NOT NULL,table_id TEXT NOT NULL,segment_id TEXT DEFAULT ('') NOT NULL,engine_type INTEGER NOT NULL,file_id TEXT NOT NULL,file_type INTEGER NOT NULL,file_size INTEGER DEFAULT (0) NOT NULL,row_count INTEGER DEFAULT (0) NOT NULL,updated_time INTEGER NOT NULL,created_on INTEGER NOT NULL,date INTEGER NOT NULL,flush_lsn INTEGER NOT NULL)",
            "CREATE TABLE Fields(collection_id TEXT NOT NULL,field_name TEXT NOT NULL,field_type INTEGER NOT NULL,field_params TEXT NOT NULL)",
        ])
        let journal = try queue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")
        // Tables(1,'example',0,4,<µs>,2,1073741824,1,'{}',1,'','','1.1.1',0)
        let t = try queue.read { try Row.fetchOne($0, sql: "SELECT * FROM Tables")! }
        #expect(t[0] as Int64 == 1 && t[1] as String == "example" && t[2] as Int64 == 0 && t[3] as Int64 == 4)
        #expect(t[5] as Int64 == 2 && t[6] as Int64 == 1_073_741_824 && t[7] as Int64 == 1 && t[8] as String == "{}")
        #expect(t[9] as Int64 == 1 && t[10] as String == "" && t[11] as String == "" && t[12] as String == "1.1.1" && t[13] as Int64 == 0)
        // TableFiles(1,'example','1625097600000000000',1,'1625097600000000000',1,72,3,<µs>,<µs>,1210601,0)
        let f = try queue.read { try Row.fetchOne($0, sql: "SELECT * FROM TableFiles")! }
        #expect(f[0] as Int64 == 1 && f[1] as String == "example" && f[2] as String == workedExampleSegment)
        #expect(f[3] as Int64 == 1 && f[4] as String == workedExampleSegment && f[5] as Int64 == 1)
        #expect(f[6] as Int64 == 72 && f[7] as Int64 == 3 && f[10] as Int64 == 1_210_601 && f[11] as Int64 == 0)
    }

    /// The public test1w fixture: its `.rv` and `bloom_filter` git blob ids are known.
    @Test func test1wFilesMatchPublishedBlobIds() async throws {
        let dir = TempDir()
        let db = try Milvus1xDatabase(root: dir.path, version: "1.1.1")
        db.addCollection("test1w", dimension: 256, metric: 1)
        let segment = try db.addSegment(table: "test1w", rows: 10_000, id: { Int64($0 + 1) }, vector: { _, buffer in
            for c in 0..<256 { buffer.storeBytes(of: Float(1).bitPattern.littleEndian, toByteOffset: 4 * c, as: UInt32.self) }
        }, segmentId: "1678354366132931000")
        let folder = db.segmentFolder(table: "test1w", segment: segment)
        func blob(_ path: String) async throws -> String {
            try await run("/usr/bin/git", ["hash-object", path]).1.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try await blob("\(folder)/\(segment).rv").hasPrefix("b9b97438b7c4"))
        #expect(try await blob("\(folder)/\(segment).uid").hasPrefix("24716c31ca5a"))
        #expect(try await blob("\(folder)/bloom_filter").hasPrefix("01b188c871b3"))
        #expect(try readBytes("\(folder)/bloom_filter").count == 55_208)
    }

    @Test func oldBloomFlavourHasFixedCapacity() throws {
        var bloom = Milvus1xBloomFilter(flavor: .v1_0, capacity: 3)
        #expect(bloom.serialized().count == 2_756_980)
        bloom.add(1)
        #expect(bloom.serialized().count == 2_756_980)
    }
}
