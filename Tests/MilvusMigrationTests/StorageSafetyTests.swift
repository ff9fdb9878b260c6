import Foundation
import NIOHTTP1
import Testing
@testable import MilvusMigration
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command, killing it (by its pid) when it has not ended after `seconds`.
/// Returns (exit status, stdout, stderr, whether it had to be killed).
func runBounded(_ executable: String, _ arguments: [String], seconds: Double) async throws -> (Int32, String, String, Bool) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let dir = TempDir("bounded")
    FileManager.default.createFile(atPath: dir.sub("out"), contents: nil)
    FileManager.default.createFile(atPath: dir.sub("err"), contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.sub("out")))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.sub("err")))
    let killed = try await runWithin(process, seconds: seconds)
    let out = (try? String(contentsOfFile: dir.sub("out"), encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: dir.sub("err"), encoding: .utf8)) ?? ""
    return (process.terminationStatus, out, err, killed)
}

/// Defects 5, 6, 8 and 9 of issue 11 on the storage side: lengths from servers and files are
/// checked before use, special files are refused without blocking, leftover cleanup removes
/// only the tool's own temporaries, `deleted_docs` streams, verify keeps a bounded list.
@Suite struct StorageSafetyTests {
    // MARK: - Special files (defect 6)

    /// A FIFO named like a segment file blocked `plan` forever (open(2) of a FIFO waits for a
    /// writer). Now: refused at once, naming the file; also through a symlink, and a folder.
    @Test(arguments: ["deleted_docs", "rv", "symlink", "folder"])
    func specialSegmentFilesAreRefusedWithoutBlocking(kind: String) async throws {
        let fx = try await RemoteDumpFixture(rows: 200, segments: 1, collections: 1, dim: 8)
        let table = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(fx.db)/tables").first)
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(fx.db)/tables/\(table)").first)
        let folder = "\(fx.db)/tables/\(table)/\(segment)"
        let rv = try #require(try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasSuffix(".rv") })
        var victim: String
        switch kind {
        case "deleted_docs":
            victim = "\(folder)/deleted_docs"
            try FileManager.default.removeItem(atPath: victim)
            #expect(mkfifo(victim, 0o644) == 0)
        case "rv":
            victim = "\(folder)/\(rv)"
            try FileManager.default.removeItem(atPath: victim)
            #expect(mkfifo(victim, 0o644) == 0)
        case "symlink":
            victim = "\(folder)/deleted_docs"
            try FileManager.default.removeItem(atPath: victim)
            #expect(mkfifo(fx.dir.sub("pipe"), 0o644) == 0)
            try FileManager.default.createSymbolicLink(atPath: victim, withDestinationPath: fx.dir.sub("pipe"))
        default:
            victim = "\(folder)/deleted_docs"
            try FileManager.default.removeItem(atPath: victim)
            try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: false)
        }
        let config = try fx.config("local", fx.header() + "target:\n  mode: local\n  local:\n    outputDir: \(fx.dir.sub("out"))\n")
        for verb in ["plan", "dump"] {
            let (status, _, err, killed) = try await runBounded(cliPath, [verb, "-c", config] + (verb == "dump" ? ["--quiet"] : []), seconds: 60)
            #expect(!killed, "\(verb) blocked on the \(kind)")
            #expect(status == 1, "\(verb): \(err)")
            #expect(err.contains(victim) && err.contains("not a regular file"), "\(verb): \(err)")
        }
    }

    // MARK: - Leftover cleanup (defect 8)

    /// Only `.npy.partial` under `tables/` and the journal's / meta's own temporaries go; a
    /// user's `backup.tmp-keep` (anywhere), other `.partial` files and symlinks stay.
    @Test func leftoverCleanupRemovesOnlyTheToolsTemporaries() async throws {
        let dir = TempDir("leftovers")
        let area = LocalStagingArea(root: dir.sub("out/migration"))
        let root = area.root
        let ours = ["tables/c/1/data.npy.partial", "tables/c/p/2/id.npy.partial",
                    "journal.json.tmp-4242-0A1B2C3D", "meta.json.tmp-7-DEADBEEF"]
        let theirs = ["backup.tmp-keep", "tables/c/1/backup.tmp-keep", "tables/c/1/notes.partial", "notes.npy.partial",
                      "other/x.npy.partial", "journal.json.tmp-keep", "journal.json.tmp-12-XYZ", "tables/c/1/data.npy",
                      "journal.json"]
        for path in ours + theirs {
            try AtomicFile.createDirectory(((root as NSString).appendingPathComponent(path) as NSString).deletingLastPathComponent)
            try Data("x".utf8).write(to: URL(fileURLWithPath: (root as NSString).appendingPathComponent(path)))
        }
        // A symlink named like a partial file pointing at a user's file: neither followed nor removed.
        try Data("user".utf8).write(to: URL(fileURLWithPath: dir.sub("precious")))
        try FileManager.default.createSymbolicLink(atPath: "\(root)/tables/c/1/link.npy.partial", withDestinationPath: dir.sub("precious"))
        let removed = try await area.removeLeftovers()
        #expect(removed == ours.count)
        for path in ours { #expect(!FileManager.default.fileExists(atPath: "\(root)/\(path)"), "\(path) left") }
        for path in theirs { #expect(FileManager.default.fileExists(atPath: "\(root)/\(path)"), "\(path) was removed") }
        #expect(FileManager.default.fileExists(atPath: dir.sub("precious")))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: "\(root)/tables/c/1/link.npy.partial")) != nil)
        // The name AtomicFile gives its temporaries is the one cleanup recognizes.
        let name = (AtomicFile.temporaryName(for: "\(root)/journal.json") as NSString).lastPathComponent
        #expect(AtomicFile.isTemporary(name, of: "journal.json"))
    }

    // MARK: - Lengths from files (defect 5)

    @Test func numpyHeadersWithImpossibleLengthsAreRefused() throws {
        func npy(_ dict: String, version: UInt8 = 1, declared: Int? = nil) -> [UInt8] {
            let body = Array(dict.utf8) + [UInt8(ascii: "\n")]
            let length = declared ?? body.count
            var out = NumPyHeader.magic + [version, 0]
            if version == 1 {
                out += [UInt8(length & 0xff), UInt8((length >> 8) & 0xff)]
            } else {
                out += [UInt8(length & 0xff), UInt8((length >> 8) & 0xff), UInt8((length >> 16) & 0xff), UInt8((length >> 24) & 0xff)]
            }
            return out + body
        }
        func refused(_ bytes: [UInt8], fileSize: Int64? = nil, _ words: String) -> Bool {
            do {
                _ = try NumPyFile.parse(bytes, file: "x.npy", fileSize: fileSize)
                return false
            } catch {
                return "\(error)".contains("x.npy") && "\(error)".contains(words)
            }
        }
        // Shape products that overflow 64 bits, negative dimensions.
        #expect(refused(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 3), }"), "overflows"))
        #expect(refused(npy("{'descr': '<i8', 'fortran_order': False, 'shape': (4611686018427387904,), }"), "overflows"))
        #expect(refused(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }"), "non-negative"))
        // A header length past the end of the file (v2: 32-bit length).
        #expect(refused(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }", version: 2, declared: 0x7fff_ffff), fileSize: 100, "past the end of the file"))
        // A payload that is not what the shape says.
        let good = NumPyHeader(dtype: .float32, shape: [3, 4])
        let encoded = good.encoded()
        #expect(try NumPyFile.parse(encoded, file: "x.npy", fileSize: Int64(encoded.count + 48)).header == good)
        #expect(refused(encoded, fileSize: Int64(encoded.count + 47), "declares 48 data bytes"))
        // Sizes never trap, even for a hand-made header.
        #expect(NumPyHeader(dtype: .float32, shape: [Int64.max, 2]).checkedPayloadBytes == nil)
        #expect(NumPyHeader(dtype: .float32, shape: [Int64.max, 2]).fileSize == Int64.max)
    }

    /// `.rv`/`.uid`/`deleted_docs` headers declaring more than the file holds (up to 2^64-1)
    /// are a clear error, not an overflow.
    @Test func segmentHeadersBeyondTheFileAreRefused() async throws {
        let fx = try await RemoteDumpFixture(rows: 100, segments: 1, collections: 1, dim: 8)
        let table = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(fx.db)/tables").first)
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(fx.db)/tables/\(table)").first)
        let folder = "\(fx.db)/tables/\(table)/\(segment)"
        let config = try fx.config("local", fx.header() + "target:\n  mode: local\n  local:\n    outputDir: \(fx.dir.sub("out"))\n")
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasSuffix(".rv") || name.hasSuffix(".uid") || name == "deleted_docs" {
            let path = "\(folder)/\(name)"
            let original = try readBytes(path)
            var bytes = original
            for i in 0..<8 { bytes[i] = 0xff }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let (status, _, err, killed) = try await runBounded(cliPath, ["plan", "-c", config], seconds: 60)
            #expect(!killed && status == 1, "\(name): \(err)")
            #expect(err.contains(path) && err.contains("truncated: the header says 18446744073709551615 payload bytes"), "\(name): \(err)")
            try Data(original).write(to: URL(fileURLWithPath: path))
        }
    }

    /// A collection whose dimension gives no valid row size (0, negative, 4·dim overflowing)
    /// has no row size at all: never a trap.
    @Test func rowSizeOfImpossibleDimensions() {
        #expect(VectorKind.float.bytesPerRow(dimension: Int.max / 2) == 0)
        #expect(VectorKind.float.bytesPerRow(dimension: -8) == 0)
        #expect(VectorKind.binary.bytesPerRow(dimension: -8) == 0)
        #expect(VectorKind.float.bytesPerRow(dimension: 128) == 512)
    }

    // MARK: - Lengths from servers (defect 5)

    /// Ranged GET answers are checked before the body is read.
    @Test func rangedAnswersAreCheckedAgainstTheRequest() throws {
        let client = try Moto.client(bucket: "b")
        func headers(_ pairs: [(String, String)]) -> HTTPHeaders { HTTPHeaders(pairs) }
        func check(_ status: Int, _ pairs: [(String, String)], offset: Int64, count: Int64) throws -> Int64 {
            try client.checkRange("t/1/2/x.rv", status: status, headers: headers(pairs), offset: offset, count: count)
        }
        // 206 with the exact range.
        #expect(try check(206, [("content-range", "bytes 100-199/1000"), ("content-length", "100")], offset: 100, count: 100) == 100)
        // 206 where the object ends first.
        #expect(try check(206, [("content-range", "bytes 900-999/1000"), ("content-length", "100")], offset: 900, count: 500) == 100)
        // 200 that is the whole object and within the range: fine at offset 0.
        #expect(try check(200, [("content-length", "50")], offset: 0, count: 64) == 50)
        // A server that ignores Range: 200 with the whole (larger) object, or at an offset; a
        // 206 for other bytes, with a wrong length, or without Content-Range.
        for (status, pairs, offset, count) in [(200, [("content-length", "1000")], Int64(100), Int64(100)),
                                               (200, [("content-length", "1000")], Int64(0), Int64(100)),
                                               (206, [("content-range", "bytes 0-999/1000"), ("content-length", "1000")], Int64(100), Int64(100)),
                                               (206, [("content-range", "bytes 100-299/1000")], Int64(100), Int64(100)),
                                               (206, [("content-range", "bytes 100-199/1000"), ("content-length", "5000")], Int64(100), Int64(100)),
                                               (206, [("content-length", "100")], Int64(100), Int64(100))] {
            do {
                let accepted = try check(status, pairs, offset: offset, count: count)
                Issue.record("accepted \(status) \(pairs) for \(offset)+\(count): \(accepted)")
            } catch {
                #expect("\(error)".contains("s3://b/t/1/2/x.rv") && "\(error)".contains("GetObject"), "\(error)")
            }
        }
        #expect(S3Client.parseContentRange("bytes 0-9/*")! == (0, 9, nil))
        #expect(S3Client.parseContentRange("bytes x-9/10") == nil)
    }

    /// Query answers whose vector data does not match the ids and the dimension are refused,
    /// never sliced (a short answer trapped before).
    @Test func inconsistentQueryAnswersAreRefused() throws {
        func refused(_ ids: [Int64], _ dim: Int64, _ vectors: QueryRows.Vectors) -> Bool {
            do {
                _ = try QueryRows.decode(ids: ids, dim: dim, vectors: vectors, subject: "collection 'c'")
                return false
            } catch {
                return "\(error)".contains("collection 'c'") && "\(error)".contains("inconsistent")
            }
        }
        #expect(refused([1, 2], 4, .float([1, 2, 3, 4, 5, 6, 7])))
        let rows = try QueryRows.decode(ids: [1, 2], dim: 4, vectors: .float([1, 2, 3, 4, 5, 6, 7, 8]), subject: "collection 'c'")
        #expect(rows.map(\.0) == [1, 2] && rows[1].1.count == 16)
        #expect(refused([1, 2], 0, .float([1, 2, 3, 4, 5, 6, 7, 8])))
        #expect(refused([1, 2], -4, .float([1, 2, 3, 4, 5, 6, 7, 8])))
        #expect(refused([1, 2], Int64.max, .float([1, 2, 3, 4, 5, 6, 7, 8])))
        #expect(refused([1, 2], 16, .binary(Data([1, 2, 3]))))
        #expect(refused([1, 2], 12, .binary(Data([1, 2, 3, 4]))))
        #expect(try QueryRows.decode(ids: [1, 2], dim: 16, vectors: .binary(Data([1, 2, 3, 4])), subject: "c").map(\.1) == [[1, 2], [3, 4]])
        #expect(refused([1], 16, .none))
        #expect(try QueryRows.decode(ids: [], dim: 0, vectors: .none, subject: "c").isEmpty)
    }

    // MARK: - Bounded memory (defect 9)

    /// verify keeps the first mismatches of a collection and counts the rest.
    @Test func verifyKeepsABoundedListOfMismatches() {
        var report = Verifier.CollectionReport(source: "c", target: "c")
        for i in 0..<5000 { report.record(.init(collection: "c", partition: nil, id: Int64(i), what: "vector differs")) }
        #expect(report.mismatches.count == Verifier.keptMismatches && report.mismatchCount == 5000)
        #expect(report.mismatches.last?.id == Int64(Verifier.keptMismatches - 1))
        let full = Verifier.Report(collections: [report], full: true)
        #expect(full.mismatchCount == 5000)
        let text = full.summary
        #expect(text.contains("Mismatches (5000):") && text.contains("… and \(5000 - Verifier.keptMismatches) more"))
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("  - ") }.count == Verifier.keptMismatches)
        let json = full.json.serialized(pretty: false)
        #expect(json.contains("\"mismatchCount\"") && json.contains("5000"))
    }
}
