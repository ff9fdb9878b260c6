import Foundation
import Testing
@testable import MilvusMigration

/// The one walker of live rows (conversion and `verify --full`): every deleted row is left out,
/// every live row comes out once and in order, whatever the chunk size and wherever the deleted
/// rows fall (first row, last row, runs, chunk boundaries, everything).
@Suite struct LiveRowReaderTests {
    /// A segment file of `rows` rows of `rowBytes` bytes; row r's bytes are (r·31 + k) & 0xff so
    /// that a row shifted by one is seen.
    static func segmentFile(rows: Int, rowBytes: Int, in dir: TempDir) throws -> LocalFile {
        var bytes = [UInt8](repeating: 0, count: 8)
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(rows * rowBytes).littleEndian, as: UInt64.self) }
        for r in 0..<rows {
            for k in 0..<rowBytes { bytes.append(UInt8(truncatingIfNeeded: r * 31 + k + r / 256)) }
        }
        let path = dir.sub("seg-\(rows)-\(rowBytes).rv")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try LocalFile(path: path)
    }

    static func row(_ r: Int, rowBytes: Int) -> [UInt8] {
        (0..<rowBytes).map { UInt8(truncatingIfNeeded: r * 31 + $0 + r / 256) }
    }

    /// All chunks' live bytes, the live and physical row counts, and the chunk starts.
    static func readAll(_ reader: LiveRowReader) async throws -> (bytes: [UInt8], live: Int, physical: Int, starts: [Int64]) {
        var bytes: [UInt8] = []
        var live = 0, physical = 0
        var starts: [Int64] = []
        while let chunk = try await reader.next() {
            #expect(chunk.bytes.count == chunk.liveRows * reader.rowBytes)
            #expect(chunk.physicalRows <= reader.rowsPerChunk)
            bytes += Array(chunk.bytes)
            live += chunk.liveRows
            physical += chunk.physicalRows
            starts.append(chunk.firstRow)
        }
        return (bytes, live, physical, starts)
    }

    @Test func everyLiveRowOnceInOrder() async throws {
        let dir = TempDir("liverows")
        let rows = 20
        let cases: [(String, [Int32])] = [
            ("none", []),
            ("first", [0]),
            ("last", [19]),
            ("first and last", [0, 19]),
            ("run at the start", [0, 1, 2, 3]),
            ("run at the end", [16, 17, 18, 19]),
            ("run in the middle", [7, 8, 9, 10, 11]),
            ("every other", Array(stride(from: 0, to: 20, by: 2))),
            ("unsorted with duplicates (≤ 1.1.0)", [9, 3, 9, 15, 3, 4]),
            ("out of range ignored", [-1, 20, 5, 1000]),
            ("all", (0..<20).map(Int32.init)),
            ("all but one", (0..<20).filter { $0 != 13 }.map(Int32.init)),
        ]
        for rowBytes in [8, 3] {
            let file = try Self.segmentFile(rows: rows, rowBytes: rowBytes, in: dir)
            for (name, raw) in cases {
                let deleted = DeletedOffsets(raw: raw, rows: Int64(rows))
                let expected = (0..<rows).filter { !deleted.contains(Int64($0)) }.flatMap { Self.row($0, rowBytes: rowBytes) }
                // Chunk sizes around the run lengths and the boundaries (4 and 5 split runs; 20, 21 one chunk).
                for chunkRows in [1, 2, 3, 4, 5, 7, 19, 20, 21, 64] {
                    let reader = LiveRowReader(file: file, rowBytes: rowBytes, totalRows: Int64(rows), deleted: deleted, rowsPerChunk: chunkRows)
                    let got = try await Self.readAll(reader)
                    #expect(got.bytes == expected, "\(name), rowBytes \(rowBytes), chunk \(chunkRows)")
                    #expect(got.live == rows - deleted.count, "\(name), chunk \(chunkRows)")
                    #expect(got.physical == rows, "\(name), chunk \(chunkRows)")
                    #expect(got.starts == Array(stride(from: Int64(0), to: Int64(rows), by: chunkRows)), "\(name), chunk \(chunkRows)")
                    #expect(try await reader.next() == nil)
                }
            }
        }
    }

    /// Random deletions over a segment larger than a bitmap word block, against a plain filter.
    @Test func randomDeletionsMatchAFilter() async throws {
        let dir = TempDir("liverows-random")
        let rows = 5000
        let file = try Self.segmentFile(rows: rows, rowBytes: 4, in: dir)
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        for density in [1, 10, 50, 95] {
            let raw = (0..<rows).filter { _ in Int(next() % 100) < density }.map(Int32.init).shuffled()
            let deleted = DeletedOffsets(raw: raw, rows: Int64(rows))
            let expected = (0..<rows).filter { !deleted.contains(Int64($0)) }.flatMap { Self.row($0, rowBytes: 4) }
            for chunkRows in [1, 63, 64, 65, 4096, 5000] {
                let reader = LiveRowReader(file: file, rowBytes: 4, totalRows: Int64(rows), deleted: deleted, rowsPerChunk: chunkRows)
                let got = try await Self.readAll(reader)
                #expect(got.bytes == expected, "density \(density)%, chunk \(chunkRows)")
                #expect(got.live == rows - raw.count)
            }
        }
    }

    /// A chunk without deleted rows is handed over as read (no copy); `pack` says so with nil.
    @Test func packCopiesOnlyWhenRowsAreDeleted() {
        let input: [UInt8] = Array(0..<12)
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 12, alignment: 8)
        defer { output.deallocate() }
        input.withUnsafeBytes { chunk in
            // 6 rows of 2 bytes: physical rows 10…15.
            #expect(LiveRowReader.pack(chunk, firstRow: 10, rowBytes: 2, deleted: DeletedOffsets(raw: [3, 16], rows: 20), into: output) == nil)
            let used = LiveRowReader.pack(chunk, firstRow: 10, rowBytes: 2, deleted: DeletedOffsets(raw: [10, 12, 13, 15], rows: 20), into: output)
            #expect(used == 4)
            #expect(Array(UnsafeRawBufferPointer(rebasing: output[0..<4])) == [2, 3, 8, 9])
        }
    }

    /// A file shorter than its rows is an error naming it, not a short chunk.
    @Test func truncatedFileThrows() async throws {
        let dir = TempDir("liverows-short")
        let file = try Self.segmentFile(rows: 10, rowBytes: 8, in: dir)
        let reader = LiveRowReader(file: file, rowBytes: 8, totalRows: 11, deleted: .none, rowsPerChunk: 4)
        await #expect(throws: MigrationError.self) {
            while try await reader.next() != nil {}
        }
    }
}
