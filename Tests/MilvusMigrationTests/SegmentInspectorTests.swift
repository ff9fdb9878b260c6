import Foundation
import Testing
import Milvus1xFixture
@testable import MilvusMigration

@Suite struct SegmentInspectorTests {
    /// A one-segment float collection of `rows` rows, dim 8.
    func oneSegment(_ dir: TempDir, rows: Int = 10, version: String = "1.1.1", deletes: [[Int32]] = [],
                    rowCountOverride: Int64? = nil) throws -> (Milvus1xDatabase, String) {
        let db = try Milvus1xDatabase(root: dir.path, version: version)
        db.addCollection("c", dimension: 8)
        let seg = try db.addSegment(table: "c", rows: rows, id: { Int64($0) * 7 }, vector: { row, b in
            for i in 0..<8 { b.storeBytes(of: Float(row * 8 + i).bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        }, deleteBatches: deletes, rowCountOverride: rowCountOverride)
        try db.finish()
        return (db, seg)
    }

    func firstProblem(_ db: Milvus1xDatabase) async throws -> String {
        let plan = try await planOf(db)
        return try #require(plan.problems.first).message
    }

    @Test func unsortedDuplicatedDeletionsInOldVersions() async throws {
        let dir = TempDir()
        // ≤ 1.1.0 appends batches: offsets 7, 2, 9, then 2 again; row_count counts the duplicate.
        let (db, seg) = try oneSegment(dir, version: "1.0.0", deletes: [[7, 2], [9, 2]])
        let deleted = try readBytes(db.segmentFolder(table: "c", segment: seg) + "/deleted_docs")
        #expect(deleted.count == 8 + 16)
        let plan = try await planOf(db)
        #expect(plan.isExecutable)
        let layout = plan.collections[0].segments[0]
        #expect(layout.deleted.sortedOffsets() == [2, 7, 9])
        #expect(layout.deleted.duplicates == 1)
        #expect(layout.liveRows == 7)
        #expect(plan.diagnostics.warnings.contains { $0.message.contains("duplicate offset") && $0.message.contains("7 rows are live") })
    }

    @Test func rewrittenDeletionsInNewVersions() async throws {
        let dir = TempDir()
        let (db, _) = try oneSegment(dir, version: "1.1.1", deletes: [[9, 0], [4, 0]])
        let plan = try await planOf(db)
        #expect(plan.isExecutable && plan.diagnostics.isEmpty)
        #expect(plan.collections[0].segments[0].deleted.sortedOffsets() == [0, 4, 9])
        #expect(plan.liveRows == 7)
    }

    @Test func outOfRangeOffsetsAreReportedAndIgnored() async throws {
        let dir = TempDir()
        let (db, _) = try oneSegment(dir, deletes: [[1, 10, -3]], rowCountOverride: 9)
        let plan = try await planOf(db)
        #expect(plan.isExecutable)
        #expect(plan.diagnostics.warnings.contains { $0.message.contains("2 offset(s) outside 0..<10") })
    }

    @Test func binaryVectorsUseBitDimensions() async throws {
        let dir = TempDir()
        let db = try Milvus1xDatabase(root: dir.path)
        db.addCollection("bin", dimension: 32, metric: 4)
        try db.addSegment(table: "bin", ids: [1, 2, 3], binaryRows: [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], deleteBatches: [[1]])
        try db.finish()
        let plan = try await planOf(db)
        #expect(plan.isExecutable)
        let c = plan.collections[0]
        #expect(c.source.vectorKind == .binary && c.source.bytesPerRow == 4)
        #expect(c.segments[0].totalRows == 3 && c.liveRows == 2)
    }

    @Test func truncatedVectorsFile() async throws {
        let dir = TempDir()
        let (db, seg) = try oneSegment(dir)
        let path = db.segmentFolder(table: "c", segment: seg) + "/\(seg).rv"
        truncate(path, 8 + 100)
        let problem = try await firstProblem(db)
        #expect(problem.contains(path) && problem.contains("truncated: the header says 320 payload bytes but the file holds 100"))
        truncate(path, 5)
        #expect(try await firstProblem(db).contains("shorter than the 8-byte header"))
    }

    @Test func headerDisagreesWithSize() async throws {
        let dir = TempDir()
        let (db, seg) = try oneSegment(dir)
        let path = db.segmentFolder(table: "c", segment: seg) + "/\(seg).uid"
        let handle = FileHandle(forWritingAtPath: path)!
        handle.seekToEndOfFile()
        handle.write(Data([1, 2, 3]))
        handle.closeFile()
        let problem = try await firstProblem(db)
        #expect(problem.contains("\(seg).uid") && problem.contains("has trailing bytes: the header says 80 payload bytes but the file holds 83"))
    }

    @Test func payloadNotAWholeNumberOfRows() async throws {
        let dir = TempDir()
        let (db, seg) = try oneSegment(dir)
        let path = db.segmentFolder(table: "c", segment: seg) + "/\(seg).rv"
        var bytes = try readBytes(path)
        bytes.removeLast(4)
        bytes.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(316).littleEndian, Array.init))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try await firstProblem(db).contains("payload of 316 bytes is not a whole number of rows of 32 bytes (float dim 8)"))
    }

    @Test func vectorAndIdRowCountsDiffer() async throws {
        let dir = TempDir()
        let (db, seg) = try oneSegment(dir)
        let path = db.segmentFolder(table: "c", segment: seg) + "/\(seg).uid"
        var bytes = try readBytes(path)
        bytes.removeLast(8)
        bytes.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(72).littleEndian, Array.init))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try await firstProblem(db).contains("holds 10 rows but \(seg).uid holds 9"))
    }

    @Test func liveRowsDisagreeWithMeta() async throws {
        let dir = TempDir()
        let (db, _) = try oneSegment(dir, deletes: [[3]], rowCountOverride: 5)
        #expect(try await firstProblem(db).contains("9 live rows (10 rows − 1 deleted) but the meta says row_count 5"))
    }

    @Test func missingFolderAndFiles() async throws {
        let dir = TempDir()
        let (db, seg) = try oneSegment(dir)
        let folder = db.segmentFolder(table: "c", segment: seg)
        try FileManager.default.removeItem(atPath: folder + "/deleted_docs")
        #expect(try await firstProblem(db).contains("deleted_docs: missing"))
        try FileManager.default.removeItem(atPath: folder + "/\(seg).uid")
        #expect(try await firstProblem(db).contains("no .uid file in the segment folder"))
        try FileManager.default.copyItem(atPath: folder + "/\(seg).rv", toPath: folder + "/other.rv")
        #expect(try await firstProblem(db).contains("2 .rv files"))
        try FileManager.default.removeItem(atPath: folder)
        let problem = try await firstProblem(db)
        #expect(problem.contains(folder) && problem.contains("segment folder is missing"))
    }

    @Test func everyProblemIsCollected() async throws {
        let dir = TempDir()
        let db = try Milvus1xDatabase(root: dir.path)
        db.addCollection("c", dimension: 8)
        let row = [Float](repeating: 1, count: 8)
        let a = try db.addSegment(table: "c", ids: [1], floatRows: [row])
        let b = try db.addSegment(table: "c", ids: [2], floatRows: [row])
        try db.addSegment(table: "c", ids: [3], floatRows: [row])
        try db.finish()
        try FileManager.default.removeItem(atPath: db.segmentFolder(table: "c", segment: a))
        try FileManager.default.removeItem(atPath: db.segmentFolder(table: "c", segment: b))
        let plan = try await planOf(db)
        #expect(plan.problems.count == 2)
        #expect(plan.collections[0].segments.count == 1)
        #expect(throws: MigrationError.self) { try plan.requireExecutable() }
    }

    @Test func liveRowToPhysicalRow() {
        let deleted: [Int32] = [0, 2, 7, 8, 9]
        let live = (0..<12).filter { !deleted.contains(Int32($0)) }.map(Int64.init)
        let set = DeletedOffsets(raw: deleted, rows: 12)
        #expect((0..<Int64(live.count)).map { Verifier.physicalRow(live: $0, deleted: set) } == live)
        #expect(Verifier.physicalRow(live: 5, deleted: DeletedOffsets(raw: [], rows: 12)) == 5)
    }

    @Test func deletedOffsetsSet() {
        let d = DeletedOffsets(raw: [5, 1, 5, 3, 99, -1, 1], rows: 10)
        #expect(d.sortedOffsets() == [1, 3, 5] && d.count == 3 && d.duplicates == 2 && d.rawCount == 7)
        #expect(d.outOfRangeCount == 2 && d.outOfRangeSample == [99, -1])
        #expect(d.contains(3) && !d.contains(2) && !d.contains(10) && !d.contains(-1))
        #expect(d.nextDeleted(from: 0, before: 10) == 1 && d.nextDeleted(from: 4, before: 10) == 5 && d.nextDeleted(from: 4, before: 5) == nil)
        // Equal sets compare equal whatever the order of the offsets.
        #expect(d == DeletedOffsets(raw: [1, 1, 5, 99, 5, -1, 3], rows: 10))
    }

    /// The bitmap against a plain sorted set, across word and rank-block boundaries.
    @Test func deletedOffsetsBitmapMatchesASortedSet() {
        var rng = SystemRandomNumberGenerator()
        for rows in [1, 63, 64, 65, 4095, 4096, 4097, 20_000] {
            for density in [0.0, 0.01, 0.5, 0.99, 1.0] {
                let raw = (0..<rows).filter { _ in Double.random(in: 0..<1, using: &rng) < density }.map(Int32.init).shuffled()
                let withDuplicates = raw + raw.prefix(raw.count / 3)
                let d = DeletedOffsets(raw: withDuplicates, rows: Int64(rows))
                let sorted = raw.sorted()
                #expect(d.sortedOffsets() == sorted && d.count == raw.count && d.duplicates == raw.count / 3, "rows \(rows) density \(density)")
                let set = Set(raw)
                let live = (0..<Int64(rows)).filter { !set.contains(Int32($0)) }
                #expect((0..<Int64(live.count)).map { d.physicalRow(live: $0) } == live, "rows \(rows) density \(density)")
                let from = Int64(rows / 3), end = Int64(rows - rows / 4)
                #expect(d.nextDeleted(from: from, before: end) == sorted.first { Int64($0) >= from && Int64($0) < end }.map(Int64.init))
            }
        }
    }

    /// A `deleted_docs` of 2 MiB (more than one read chunk) streams into the set: duplicates and
    /// out-of-range offsets counted as before.
    @Test func largeDeletedDocsStreamsInChunks() async throws {
        let dir = TempDir()
        let (db, seg) = try oneSegment(dir, rows: 1000, version: "1.1.1", deletes: [[0]], rowCountOverride: 500)
        // 524,288 offsets: i % 500 (500 unique, the rest duplicates) and every 1000th one out of range.
        var payload: [UInt8] = []
        let n = 524_288
        payload.reserveCapacity(8 + 4 * n)
        withUnsafeBytes(of: UInt64(4 * n).littleEndian) { payload += $0 }
        for i in 0..<n {
            let offset: Int32 = i % 1000 == 999 ? Int32(5000 + i) : Int32(i % 500)
            withUnsafeBytes(of: offset.littleEndian) { payload += $0 }
        }
        try Data(payload).write(to: URL(fileURLWithPath: db.segmentFolder(table: "c", segment: seg) + "/deleted_docs"))
        let plan = try await planOf(db)
        #expect(plan.isExecutable, "\(plan.diagnostics)")
        let deleted = plan.collections[0].segments[0].deleted
        let outside = n / 1000
        #expect(deleted.count == 500 && deleted.rawCount == n && deleted.outOfRangeCount == outside && deleted.duplicates == n - outside - 500)
        #expect(plan.diagnostics.warnings.contains { $0.message.contains("\(outside) offset(s) outside 0..<1000") })
    }
}
