// Segment inspection: a segment folder's .rv, .uid and deleted_docs (and the folder listing)
// checked against each other and the meta, served from memory through SourceStorage.
//
// Input: flags(1) dim(2) row_count(8) file_size(8) len(.rv)(2) len(.uid)(2), then the .rv bytes,
// the .uid bytes, and the rest is deleted_docs. flags: bit0 binary metric, bit1 no .rv,
// bit2 no .uid, bit3 no deleted_docs, bit4 a second .rv, bit5 no folder.
import FuzzSupport
@testable import MilvusMigration

struct MemoryStorage: SourceStorage {
    var folders: [String: [String]]
    var files: [String: [UInt8]]

    var location: String { "memory" }
    func list(_ folder: String) async throws -> [String]? { folders[folder] }
    func open(_ path: String) async throws -> any SourceFile {
        guard let bytes = files[path] else { throw MigrationError.io(path: path, operation: "open", reason: "no such file") }
        return MemoryFile(path: path, bytes: bytes)
    }
    func display(_ path: String) -> String { "tables/\(path)" }
}

/// Behaves like LocalFile: exact reads or a truncation error.
struct MemoryFile: SourceFile {
    var path: String
    var bytes: [UInt8]
    var size: Int64 { Int64(bytes.count) }
    var localDescriptor: Int32? { nil }

    func read(at offset: Int64, count: Int) async throws -> [UInt8] {
        // LocalFile allocates `count` bytes before reading: a negative count traps there too.
        precondition(count >= 0, "negative read count \(count)")
        guard offset >= 0, offset <= size, Int64(count) <= size - offset else {
            throw MigrationError.segment(file: path, message: "truncated")
        }
        return Array(bytes[Int(offset)..<(Int(offset) + count)])
    }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) async throws {
        let got = try await read(at: offset, count: buffer.count)
        buffer.copyMemory(from: UnsafeRawBufferPointer(start: got, count: got.count))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzReader(fuzzBytes(data, count))
    let flags = input.byte()
    let binary = flags & 1 != 0
    // Only dimensions the meta readers accept reach the inspector (MetaAssembler.dimensionProblem).
    let raw = Int(input.uint16())
    let dimension = binary ? 8 * (1 + raw % 4096) : 1 + raw % 32768
    let rowCount = input.int64()
    let fileSize = input.int64()
    let rvLength = Int(input.uint16())
    let uidLength = Int(input.uint16())
    let rv = input.take(rvLength)
    let uid = input.take(uidLength)
    let deleted = input.rest()

    let segment = SourceSegment(tableId: "c", id: "1", fileType: .raw, rowCount: rowCount, fileSize: fileSize)
    let collection = SourceCollection(name: "c", dimension: dimension, metricType: binary ? 3 : 1,
                                      partitions: [SourcePartition(tableId: "c", tag: nil, name: "_default", segments: [segment])])
    var names: [String] = []
    var files: [String: [UInt8]] = [:]
    if flags & 2 == 0 { names.append("1.rv"); files["c/1/1.rv"] = rv }
    if flags & 4 == 0 { names.append("1.uid"); files["c/1/1.uid"] = uid }
    if flags & 8 == 0 { names.append("deleted_docs"); files["c/1/deleted_docs"] = deleted }
    if flags & 16 != 0 { names.append("2.rv"); files["c/1/2.rv"] = rv }
    let storage = MemoryStorage(folders: flags & 32 == 0 ? ["c/1": names] : [:], files: files)

    blocking {
        do {
            let (layout, warnings) = try await SegmentInspector(storage: storage).inspect(segment, of: collection)
            _ = (layout.liveRows, layout.sourceBytes, warnings.map { String(describing: $0) })
            for row in [Int64(-1), 0, 1, layout.totalRows - 1, layout.totalRows] { _ = layout.deleted.contains(row) }
        } catch {
            _ = String(describing: error)
        }
    }
    return 0
}

@main enum Main {
    static func main() { runFuzzer(fuzzOne) }
}
