import Foundation
import Testing
import Milvus1xFixture
@testable import MilvusMigration

@Suite struct NumPyTests {
    @Test func headersAreAlignedAndParse() throws {
        for header in [NumPyHeader.ids(rows: 3), .vectors(rows: 1_000_000_000, kind: .float, dimension: 32768), .vectors(rows: 0, kind: .binary, dimension: 16)] {
            let bytes = header.encoded()
            #expect(bytes.count % 64 == 0)
            #expect(bytes.last == UInt8(ascii: "\n"))
            let parsed = try NumPyFile.parse(bytes, file: "x.npy")
            #expect(parsed.header == header && !parsed.fortranOrder && parsed.dataOffset == bytes.count)
        }
        #expect(NumPyHeader.ids(rows: 3).dictionary == "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }")
        #expect(NumPyHeader.vectors(rows: 2, kind: .binary, dimension: 16).dictionary == "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }")
    }

    @Test func checksumDependsOnEveryByteAndOnChunking() {
        let data = (0..<1000).map { UInt8($0 % 251) }
        var whole = Checksum64()
        data.withUnsafeBytes { whole.update($0) }
        var pieces = Checksum64()
        for range in [0..<3, 3..<17, 17..<512, 512..<1000] { data[range].withUnsafeBytes { pieces.update($0) } }
        #expect(whole.hex == pieces.hex)
        var changed = data
        changed[999] ^= 1
        var other = Checksum64()
        changed.withUnsafeBytes { other.update($0) }
        #expect(other.hex != whole.hex)
    }
}

enum LocalStagingSource {
    static func storage(_ db: Milvus1xDatabase) -> LocalSourceStorage { LocalSourceStorage(root: db.tablesPath) }
}

@Suite struct DumpTests {
    struct Scenario {
        let dir = TempDir("dump")
        let db: Milvus1xDatabase
        /// Expected live (id, vector bytes) per 2.x (collection, partition).
        var expected: [String: [(Int64, [UInt8])]] = [:]
        var configPath: String { dir.sub("migration.yaml") }
        var staging: String { dir.sub("staged/migration") }

        init(rows: Int = 300, segmentsPerTable: Int = 2) throws {
            db = try Milvus1xDatabase(root: dir.sub("db"), version: "1.0.0")
            db.addCollection("floats", dimension: 5, metric: 2)
            db.addCollection("bits", dimension: 24, metric: 3)
            let part = db.addPartition(of: "floats", tag: "p 1")
            var nextId: Int64 = 1000
            for (table, collection, partition, binary) in [("floats", "floats", "_default", false), (part, "floats", "p_1", false), ("bits", "bits", "_default", true)] {
                for s in 0..<segmentsPerTable {
                    let base = nextId
                    let bytesPerRow = binary ? 3 : 20
                    // Unsorted, duplicated deletions across batches (≤ 1.1.0 style); BACKUP for the second segment.
                    let deletes: [[Int32]] = [[Int32(rows - 1), 5, 2], [2, Int32(rows / 2)], [0]]
                    func vector(_ row: Int) -> [UInt8] {
                        binary ? [UInt8(truncatingIfNeeded: row), UInt8(truncatingIfNeeded: base), 0xA5]
                               : (0..<5).flatMap { c in withUnsafeBytes(of: SampleDatabase.floatValue(seed: UInt64(base), row: row, column: c).bitPattern.littleEndian, Array.init) }
                    }
                    try db.addSegment(table: table, rows: rows, id: { base + Int64($0) * 3 }, vector: { row, buffer in
                        buffer.copyBytes(from: vector(row))
                    }, deleteBatches: deletes, state: s == 1 ? .indexed(engineType: binary ? 9 : 1) : .raw,
                       rowCountOverride: Int64(rows - 6))
                    let dead = Set(deletes.flatMap { $0 })
                    for row in 0..<rows where !dead.contains(Int32(row)) {
                        expected["\(collection)/\(partition)", default: []].append((base + Int64(row) * 3, vector(row)))
                        precondition(vector(row).count == bytesPerRow)
                    }
                    nextId += 100_000
                }
            }
            try db.finish()
            try Data("""
            dumper:
              worker:
                workMode: milvus1x
                limit: 3
                groupMB: 0
                reader:
                  bufferSize: 1
            meta:
              mode: sqlite
              sqliteFile: \(db.metaPath)
            source:
              mode: local
              local:
                tablesDir: \(db.tablesPath)
            target:
              mode: local
              local:
                outputDir: \(dir.sub("staged"))
            """.utf8).write(to: URL(fileURLWithPath: configPath))
        }

        /// Reads back every staged segment (or group `<first>..<last>`) of a (collection, partition)
        /// in segment order.
        func staged(_ collection: String, _ partition: String) throws -> [(Int64, [UInt8])] {
            let base = partition == "_default" ? "\(staging)/tables/\(collection)" : "\(staging)/tables/\(collection)/\(partition)"
            let segments = try FileManager.default.contentsOfDirectory(atPath: base)
                .filter { $0.first?.isNumber == true && $0.allSatisfy { $0.isNumber || $0 == "." } }
                .sorted { a, b in
                    let (x, y) = (a.split(separator: ".")[0], b.split(separator: ".")[0])
                    return (x.count, x) < (y.count, y)
                }
            var rows: [(Int64, [UInt8])] = []
            for segment in segments {
                let ids = try NumPyFile.read(path: "\(base)/\(segment)/id.npy")
                let vectors = try NumPyFile.read(path: "\(base)/\(segment)/data.npy")
                let idBytes = try readBytes("\(base)/\(segment)/id.npy")
                let vecBytes = try readBytes("\(base)/\(segment)/data.npy")
                let n = Int(ids.header.shape[0])
                #expect(vectors.header.shape[0] == Int64(n))
                #expect(idBytes.count == ids.dataOffset + 8 * n)
                let rowBytes = Int(vectors.header.rowBytes)
                #expect(vecBytes.count == vectors.dataOffset + rowBytes * n)
                for i in 0..<n {
                    let id = idBytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: ids.dataOffset + 8 * i, as: Int64.self)) }
                    rows.append((id, Array(vecBytes[(vectors.dataOffset + rowBytes * i)..<(vectors.dataOffset + rowBytes * (i + 1))])))
                }
            }
            return rows
        }

        func checkAll() throws {
            for (key, rows) in expected {
                let parts = key.split(separator: "/").map(String.init)
                let got = try staged(parts[0], parts[1])
                #expect(got.count == rows.count, "\(key)")
                #expect(got.map(\.0) == rows.map(\.0), "\(key) ids")
                #expect(got.map(\.1) == rows.map(\.1), "\(key) vectors")
            }
        }
    }

    @Test func roundTripFloatBinaryPartitionsDeletions() async throws {
        let s = try Scenario()
        let (status, out, err) = try await run(cliPath, ["dump", "-c", s.configPath, "--quiet"])
        #expect(status == 0, "\(err)")
        #expect(out.contains("Dumped"))
        try s.checkAll()
        let ids = try NumPyFile.read(path: try #require(FileManager.default.enumerator(atPath: s.staging)?.allObjects.compactMap { $0 as? String }.first { $0.hasSuffix("id.npy") }).map { "\(s.staging)/\($0)" }!)
        #expect(ids.header.dtype == .int64)
        // meta.json of what was dumped sits next to the files and reads back.
        let meta = try MetaJSON.read(path: "\(s.staging)/meta.json")
        #expect(meta.collections.map(\.name) == ["bits", "floats"])
        #expect(meta.collections[1].partitions.map(\.name) == ["_default", "p_1"])
        #expect(!FileManager.default.subpaths(atPath: s.staging)!.contains { $0.hasSuffix(".partial") })
    }

    /// numpy itself reads the files: shapes, dtypes, C order and values.
    @Test func numpyLoadsTheFiles() async throws {
        let s = try Scenario(rows: 50, segmentsPerTable: 1)
        #expect(try await run(cliPath, ["dump", "-c", s.configPath, "--quiet"]).0 == 0)
        let python = ProcessInfo.processInfo.environment["MM_PYTHON"] ?? "/usr/bin/env"
        let args = python.hasSuffix("env") ? ["python3"] : []
        let script = """
        import numpy as np, glob, sys
        out = []
        for f in sorted(glob.glob(sys.argv[1] + '/tables/**/*.npy', recursive=True)):
            a = np.load(f)
            assert a.flags['C_CONTIGUOUS']
            out.append('%s %s %s %s' % (f[len(sys.argv[1]):], a.dtype.str, a.shape, int(a.astype('int64').sum() if a.dtype.kind in 'iu' else 0)))
        print('\\n'.join(out))
        """
        let (status, out, err) = try await run(python, args + ["-c", script, s.staging])
        #expect(status == 0, "\(err)")
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        let bitsData = try #require(lines.first { $0.hasPrefix("/tables/bits/") && $0.contains("data.npy") })
        #expect(bitsData.contains("|u1 (45, 3)"))
        let floatsData = try #require(lines.first { $0.contains("/floats/p_1/") && $0.contains("data.npy") })
        #expect(floatsData.contains("<f4 (45, 5)"))
        let idLine = try #require(lines.first { $0.hasPrefix("/tables/bits/") && $0.contains("id.npy") })
        let expectedSum = s.expected["bits/_default"]!.reduce(Int64(0)) { $0 + $1.0 }
        #expect(idLine.hasSuffix(" <i8 (45,) \(expectedSum)"))
    }

    @Test func rerunSkipsFinishedSegmentsAndRedoesDamagedOnes() async throws {
        let s = try Scenario(rows: 40)
        #expect(try await run(cliPath, ["dump", "-c", s.configPath, "--quiet"]).0 == 0)
        let files = FileManager.default.subpaths(atPath: s.staging)!.filter { $0.hasSuffix(".npy") }.sorted()
        let before = try Dictionary(uniqueKeysWithValues: files.map { ($0, try FileManager.default.attributesOfItem(atPath: "\(s.staging)/\($0)")[.modificationDate] as! Date) })
        // Damage one file; the rerun must rewrite exactly that segment.
        let victim = try #require(files.first { $0.contains("/floats/p_1/") && $0.hasSuffix("data.npy") })
        truncate("\(s.staging)/\(victim)", 100)
        try await Task.sleep(for: .milliseconds(50))
        let (status, out, _) = try await run(cliPath, ["dump", "-c", s.configPath, "--quiet"])
        #expect(status == 0)
        let floatsRow = try #require(out.split(separator: "\n").first { $0.hasPrefix("floats ") }).split(separator: " ")
        #expect(Array(floatsRow.prefix(3)) == ["floats", "1", "3"], "one segment redone, three kept")
        for file in files {
            let mtime = try FileManager.default.attributesOfItem(atPath: "\(s.staging)/\(file)")[.modificationDate] as! Date
            let sameSegment = (file as NSString).deletingLastPathComponent == (victim as NSString).deletingLastPathComponent
            #expect((mtime == before[file]!) == !sameSegment, "\(file)")
        }
        try s.checkAll()
    }

    @Test func killedDumpResumesToIdenticalOutput() async throws {
        let s = try Scenario(rows: 200_000, segmentsPerTable: 2)
        let reference = TempDir("ref")
        // Uninterrupted reference dump into another folder.
        let refConfig = reference.sub("migration.yaml")
        try String(contentsOfFile: s.configPath, encoding: .utf8).replacingOccurrences(of: s.dir.sub("staged"), with: reference.sub("staged"))
            .write(toFile: refConfig, atomically: true, encoding: .utf8)
        #expect(try await run(cliPath, ["dump", "-c", refConfig, "--quiet"]).0 == 0)

        // Start, kill -9 once some files are committed, then rerun. One segment at a time, so
        // the window between the second committed file and the end spans several segments; the
        // poll runs on a thread of its own (a busy cooperative pool could let the dump finish).
        try String(contentsOfFile: s.configPath, encoding: .utf8).replacingOccurrences(of: "limit: 3", with: "limit: 1")
            .write(toFile: s.configPath, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cliPath)
        process.arguments = ["dump", "-c", s.configPath, "--quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let ended = try launch(process)
        let staging = s.staging
        try await onThread {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let done = (FileManager.default.subpaths(atPath: staging) ?? []).filter { $0.hasSuffix(".npy") }.count
                if done >= 2 { break }
                usleep(500)
            }
            kill(process.processIdentifier, SIGKILL)
        }
        await ended.value
        #expect(process.terminationReason == .uncaughtSignal, "the dump finished before it could be killed; the test proves nothing")

        let (status, _, err) = try await run(cliPath, ["dump", "-c", s.configPath, "--quiet"])
        #expect(status == 0, "\(err)")
        let got = FileManager.default.subpaths(atPath: s.staging)!.filter { !$0.hasSuffix("journal.json") }.sorted()
        let want = FileManager.default.subpaths(atPath: reference.sub("staged/migration"))!.filter { !$0.hasSuffix("journal.json") }.sorted()
        #expect(got == want)
        for file in got where file.hasSuffix(".npy") || file.hasSuffix("meta.json") {
            #expect(try readBytes("\(s.staging)/\(file)") == readBytes(reference.sub("staged/migration/\(file)")), "\(file)")
        }
    }

    /// Segments without deletions go through the kernel copy path; the payload is the source's, unchanged.
    @Test func segmentsWithoutDeletionsAreCopiedByTheKernel() async throws {
        let dir = TempDir("kcopy")
        let db = try Milvus1xDatabase(root: dir.sub("db"))
        db.addCollection("plain", dimension: 7, metric: 1)
        let segment = try db.addSegment(table: "plain", rows: 5000, id: { Int64($0) * 11 }, vector: { row, b in
            for i in 0..<7 { b.storeBytes(of: Float(row * 7 + i).bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        })
        try db.finish()
        let plan = try await planOf(db)
        var options = PipelineOptions()
        options.quiet = true
        let staging = LocalStagingArea(root: dir.sub("out/migration"))
        _ = try await MigrationPipeline(staging: staging, options: options).dump(plan, from: LocalStagingSource.storage(db))
        let folder = "\(dir.sub("out/migration"))/tables/plain/\(segment)"
        let source = try readBytes(db.segmentFolder(table: "plain", segment: segment) + "/\(segment).rv")
        let staged = try readBytes("\(folder)/data.npy")
        let header = try NumPyFile.parse(staged, file: "data.npy")
        #expect(header.header == NumPyHeader(dtype: .float32, shape: [5000, 7]))
        #expect(Array(staged[header.dataOffset...]) == Array(source[8...]))
        let ids = try readBytes("\(folder)/id.npy")
        let uid = try readBytes(db.segmentFolder(table: "plain", segment: segment) + "/\(segment).uid")
        #expect(Array(ids[128...]) == Array(uid[8...]))
        let journal = try await JobJournal.open(staging)
        let record = try #require(await journal.all.first)
        // Kernel-copied files get a full-content checksum too (read back after the copy).
        for file in record.files {
            var sum = Checksum64()
            try readBytes("\(dir.sub("out/migration"))/\(file.path)").withUnsafeBytes { sum.update($0) }
            #expect(file.checksum == sum.hex, "\(file.path)")
        }
    }

    @Test func segmentTruncatedAfterPlanFailsCleanly() async throws {
        let s = try Scenario(rows: 30, segmentsPerTable: 1)
        let meta = MetaAssembler.assemble(try SQLiteMetaReader(path: s.db.metaPath).read())
        let source = LocalSourceStorage(root: s.db.tablesPath)
        let plan = try await Planner(storage: source).plan(meta)
        #expect(plan.isExecutable)
        let layout = plan.collections.first { $0.source.name == "floats" }!.segments[0]
        truncate("\(s.db.tablesPath)/\(layout.vectorsFile)", 50)
        var options = PipelineOptions()
        options.quiet = true
        options.stageParallelism = 1
        await #expect {
            try await MigrationPipeline(staging: LocalStagingArea(root: s.staging), options: options).dump(plan, from: source)
        } throws: { error in
            "\(error)".contains("changed since it was checked") && "\(error)".contains(layout.vectorsFile)
        }
        let leftovers = (FileManager.default.subpaths(atPath: s.staging) ?? []).filter { $0.hasSuffix(".partial") }
        #expect(leftovers.isEmpty)
        let journal = try await JobJournal.open(LocalStagingArea(root: s.staging))
        #expect(await journal.all.contains { $0.phase == .failed && ($0.failure ?? "").contains("changed since") })
    }

    @Test func readOnlyOutputIsAClearError() async throws {
        let s = try Scenario(rows: 10, segmentsPerTable: 1)
        // A file where the output folder should be: nothing can be created below it, even as root.
        try FileManager.default.createDirectory(atPath: s.dir.sub("staged"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: s.dir.sub("staged/migration")))
        let (status, _, err) = try await run(cliPath, ["dump", "-c", s.configPath, "--quiet"])
        #expect(status == 1)
        #expect(err.contains(s.dir.sub("staged/migration")))
        let errors = err.split(separator: "\n").filter { $0.contains("error:") }
        #expect(errors.count == 1)
    }
}
