import AsyncHTTPClient
import Foundation
import Milvus1xFixture
import MilvusMigrationService
import NIOCore
import Testing
@testable import MilvusMigration

/// The samples of a Prometheus text exposition: `name{label="value",…} number` lines.
struct Exposition {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var samples: [Sample] = []
    var types: [String: String] = [:]

    init(_ text: String) {
        let label = try! Regex(#"([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)""#)
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count == 4 { types[String(parts[2])] = String(parts[3]) }
                continue
            }
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let key = line[..<space]
            var sample = Sample(name: String(key), labels: [:], value: value)
            if let brace = key.firstIndex(of: "{") {
                sample.name = String(key[..<brace])
                for match in key[brace...].matches(of: label) {
                    sample.labels[String(match.output[1].substring!)] = String(match.output[2].substring!)
                }
            }
            samples.append(sample)
        }
    }

    /// The samples of `name` whose labels include `labels`.
    func matching(_ name: String, _ labels: [String: String] = [:]) -> [Sample] {
        samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
    }

    /// The sum of those samples (nil when there is none).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let found = matching(name, labels)
        return found.isEmpty ? nil : found.reduce(0) { $0 + $1.value }
    }
}

/// GET `url`; the status, content type and body. The timeout is long: the server may run in this
/// process, whose cooperative threads other suites block for a while (`run`).
func httpGet(_ url: String, timeout: TimeAmount = .seconds(120)) async throws -> (Int, String?, String) {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: timeout)
    let body = try await response.body.collect(upTo: 16 << 20)
    return (Int(response.status.code), response.headers.first(name: "content-type"), String(buffer: body))
}

/// A CLI run whose `/metrics` was scraped while it ran.
struct ScrapedRun: Sendable {
    var status: Int32 = 0
    var out = ""
    var err = ""
    /// The bodies of the successful scrapes, in order.
    var scrapes: [String] = []
    /// Answers that were not 200 with the text format's content type.
    var badAnswers: [String] = []
    var failed = 0
    var lastError = ""
}

/// Runs the CLI (which must have `--metrics-address … :0`) and scrapes the address it names on
/// stderr every `interval` until it exits. The loop runs on a thread of its own with the
/// future-based HTTP client: the tests' cooperative threads are few and other suites block them
/// while their CLI runs (`run`), which must not starve or time out these scrapes.
func runCLIScraping(_ arguments: [String], dir: TempDir, interval: Double = 0.05) async throws -> ScrapedRun {
    let (outPath, errPath) = (dir.sub("cli-\(UUID().uuidString).out"), dir.sub("cli-\(UUID().uuidString).err"))
    FileManager.default.createFile(atPath: outPath, contents: nil)
    FileManager.default.createFile(atPath: errPath, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: cliPath)
    process.arguments = arguments
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    try process.run()
    nonisolated(unsafe) let running = process
    return await withCheckedContinuation { continuation in
        Thread {
            var run = ScrapedRun()
            var url: String?
            let marker = "serving Prometheus metrics at "
            let deadline = Date().addingTimeInterval(600)
            while running.isRunning {
                if url == nil, let stderr = try? String(contentsOfFile: errPath, encoding: .utf8), let range = stderr.range(of: marker) {
                    url = String(stderr[range.upperBound...].prefix { !$0.isWhitespace })
                }
                if let url {
                    do {
                        let response = try HTTPClient.shared.get(url: url, deadline: .now() + .seconds(5)).wait()
                        let type = response.headers.first(name: "content-type")
                        if response.status == .ok && type == MetricsServer.contentType {
                            // No body: nothing is registered yet (before the plan).
                            run.scrapes.append(response.body.map { String(buffer: $0) } ?? "")
                        } else {
                            run.badAnswers.append("\(response.status) \(type ?? "")")
                        }
                    } catch {
                        run.failed += 1
                        run.lastError = "\(error)"
                    }
                }
                if Date() > deadline { kill(running.processIdentifier, SIGKILL) }
                Thread.sleep(forTimeInterval: interval)
            }
            running.waitUntilExit()
            run.status = running.terminationStatus
            run.out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
            run.err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            continuation.resume(returning: run)
        }.start()
    }
}

/// Runs the CLI without blocking a thread (`run`).
func runCLIAsync(_ arguments: [String], dir: TempDir) async throws -> (Int32, String, String) {
    try await run(cliPath, arguments)
}

@Suite struct MetricsTests {
    /// A collection name of this test alone: tests run in parallel in one process, and the
    /// registry is the process's.
    static func uniqueCollection() -> String { "metrics_\(UUID().uuidString.prefix(8).lowercased())" }

    @Test func helpersLandInThePrometheusExposition() throws {
        _ = MetricsServer.registry
        let c = Self.uniqueCollection()
        MigrationMetrics.staged(collection: c, rows: 40, bytes: 1_000)
        MigrationMetrics.staged(collection: c, rows: 2, bytes: 24)
        MigrationMetrics.imported(collection: c, rows: 42, bytes: 1_024)
        MigrationMetrics.inserted(collection: c, rows: 7, bytes: 140)
        MigrationMetrics.unitSkipped(.stage, collection: c)
        MigrationMetrics.unitSkipped(.load, collection: c)
        MigrationMetrics.unitSkipped(.load, collection: c)
        MigrationMetrics.retry(.s3, cause: "throttled")
        MigrationMetrics.importTask(seconds: 3.5, completed: true)
        MigrationMetrics.error(.target(.importFailed, subject: "segment \(c)", message: "x"), command: "metrics-test", scope: "unit")

        let text = String(decoding: MetricsServer.exposition(), as: UTF8.self)
        let e = Exposition(text)
        #expect(e.value(MigrationMetrics.Name.stagedRows, ["collection": c]) == 42)
        #expect(e.value(MigrationMetrics.Name.stagedBytes, ["collection": c]) == 1_024)
        #expect(e.value(MigrationMetrics.Name.importedRows, ["collection": c]) == 42)
        #expect(e.value(MigrationMetrics.Name.importedBytes, ["collection": c]) == 1_024)
        #expect(e.value(MigrationMetrics.Name.insertedRows, ["collection": c]) == 7)
        #expect(e.value(MigrationMetrics.Name.insertedBytes, ["collection": c]) == 140)
        #expect(e.value(MigrationMetrics.Name.unitsSkipped, ["collection": c, "step": "stage"]) == 1)
        #expect(e.value(MigrationMetrics.Name.unitsSkipped, ["collection": c, "step": "load"]) == 2)
        #expect((e.value(MigrationMetrics.Name.retries, ["service": "s3", "cause": "throttled"]) ?? 0) >= 1)
        #expect(e.value(MigrationMetrics.Name.errors, ["command": "metrics-test", "scope": "unit", "kind": "target.importFailed"]) == 1)
        // The exact line, as Prometheus reads it.
        #expect(text.contains("\(MigrationMetrics.Name.stagedRows){collection=\"\(c)\"} 42\n"), "\(text)")
        #expect(e.types[MigrationMetrics.Name.stagedRows] == "counter")
        #expect(e.types[MigrationMetrics.Name.units] == nil || e.types[MigrationMetrics.Name.units] == "gauge")
        // Import task latency: a histogram in seconds with buckets up to hours.
        #expect(e.types[MigrationMetrics.Name.importDuration] == "histogram")
        #expect((e.value(MigrationMetrics.Name.importDuration + "_count", ["outcome": "completed"]) ?? 0) >= 1)
        #expect(!e.matching(MigrationMetrics.Name.importDuration + "_bucket", ["outcome": "completed", "le": "3600.0"]).isEmpty, "\(text)")
        // Every metric name has the prefix; no segment id or other unbounded label is used.
        for sample in e.samples where sample.name.contains("milvus_migration") {
            #expect(sample.name.hasPrefix(MigrationMetrics.prefix))
            #expect(Set(sample.labels.keys).isSubset(of: ["collection", "phase", "step", "outcome", "service", "cause", "command", "scope", "kind", "le"]))
        }
    }

    /// The `units` gauges follow the journal: every phase change passes through `JobJournal.apply`.
    @Test func unitGaugesFollowTheJournal() async throws {
        _ = MetricsServer.registry
        let dir = TempDir("metrics-journal")
        let staging = LocalStagingArea(root: dir.path)
        try await staging.prepare()
        let journal = try await JobJournal.open(staging)
        let c = Self.uniqueCollection()
        let keys = ["\(c)/_default/1", "\(c)/_default/2", "\(c)/_default/3"]
        // A record made before tracking starts counts in its phase.
        let file = StagedFileRecord(path: "x.npy", bytes: 10, checksum: "0")
        try await journal.apply(.staged(files: [file], rows: 5, deletedRows: 0, fingerprint: "f"), to: keys[0])
        // A unit of another run (not tracked) never shows.
        try await journal.apply(.staged(files: [file], rows: 5, deletedRows: 0, fingerprint: "f"), to: "\(c)_other/_default/9")
        await journal.trackPhases(of: keys.map { ($0, c) })

        func gauges() -> [String: Double] {
            let e = Exposition(String(decoding: MetricsServer.exposition(), as: UTF8.self))
            var out: [String: Double] = [:]
            for s in e.matching(MigrationMetrics.Name.units, ["collection": c]) { out[s.labels["phase"]!] = s.value }
            #expect(e.matching(MigrationMetrics.Name.units, ["collection": "\(c)_other"]).isEmpty)
            return out
        }
        var g = gauges()
        #expect(Set(g.keys) == Set(SegmentPhase.allCases.map(\.rawValue)))
        #expect(g["pending"] == 2 && g["staged"] == 1 && g["imported"] == 0)

        try await journal.apply(.importRequested, to: keys[0])
        try await journal.apply(.staged(files: [file], rows: 5, deletedRows: 0, fingerprint: "f"), to: keys[1])
        try await journal.apply(.stageFailed(reason: "disk full", fingerprint: "f"), to: keys[2])
        g = gauges()
        #expect(g["pending"] == 0 && g["staged"] == 1 && g["importing"] == 1 && g["failed"] == 1)
        // An event that changes no phase leaves the gauges; an illegal one changes nothing.
        try await journal.apply(.importTaskRecorded(7), to: keys[0])
        await #expect(throws: MigrationError.self) { try await journal.apply(.insertCompleted, to: keys[1]) }
        try await journal.apply(.importCompleted, to: keys[0])
        g = gauges()
        #expect(g["importing"] == 0 && g["imported"] == 1 && g["staged"] == 1 && g["failed"] == 1)
        #expect(g.values.reduce(0, +) == 3)
    }

    /// The pipeline against the in-memory target, in a collection of its own: a first `start`
    /// counts its rows and bytes and ends with every unit imported (one failed import counted
    /// as an error), a rerun imports the failed unit and counts the others as skipped.
    @Test func pipelineCountsWorkSkipsAndFailures() async throws {
        _ = MetricsServer.registry
        let dir = TempDir("metrics-pipeline")
        let c = Self.uniqueCollection()
        let db = try Milvus1xDatabase(root: dir.sub("db"), version: "1.1.1")
        db.addCollection(c, dimension: 4, metric: 1)
        var segments: [String] = []
        for s in 0..<3 {
            let ids = (0..<(10 + s)).map { Int64(s * 100 + $0) }
            segments.append(try db.addSegment(table: c, ids: ids, floatRows: ids.map { [Float($0), 1, 2, 3] }, deleteBatches: s == 0 ? [[1]] : []))
        }
        try db.finish()
        let plan = try await planOf(db)
        let source = LocalSourceStorage(root: db.tablesPath)
        let target = InMemoryTarget()
        var options = PipelineOptions()
        options.quiet = true
        let staging = dir.sub("staged")
        let pipeline = MigrationPipeline(staging: LocalStagingArea(root: staging), options: options)
        let errorsBefore = Exposition(String(decoding: MetricsServer.exposition(), as: UTF8.self))
            .value(MigrationMetrics.Name.errors, ["command": "start", "scope": "unit", "kind": "target.importFailed"]) ?? 0

        await target.set(failImportsContaining: [segments[2]])
        await #expect(throws: MigrationError.self) { try await pipeline.start(plan, from: source, into: target) }
        var e = Exposition(String(decoding: MetricsServer.exposition(), as: UTF8.self))
        let label = ["collection": c]
        let live = Double(plan.liveRows)
        #expect(live == 32)
        #expect(e.value(MigrationMetrics.Name.stagedRows, label) == live)
        #expect(e.value(MigrationMetrics.Name.importedRows, label) == live - 12, "the failed unit's rows are not counted")
        #expect(e.value(MigrationMetrics.Name.units, ["collection": c, "phase": "imported"]) == 2)
        #expect(e.value(MigrationMetrics.Name.units, ["collection": c, "phase": "failed"]) == 1)
        #expect((e.value(MigrationMetrics.Name.errors, ["command": "start", "scope": "unit", "kind": "target.importFailed"]) ?? 0) >= errorsBefore + 1)
        let records = try await JobJournal.open(LocalStagingArea(root: staging)).all
        let stagedBytes = Double(records.flatMap(\.files).reduce(0) { $0 + $1.bytes })
        #expect(e.value(MigrationMetrics.Name.stagedBytes, label) == stagedBytes)

        await target.set(failImportsContaining: [])
        _ = try await pipeline.start(plan, from: source, into: target)
        e = Exposition(String(decoding: MetricsServer.exposition(), as: UTF8.self))
        #expect(e.value(MigrationMetrics.Name.stagedRows, label) == live, "nothing staged again")
        #expect(e.value(MigrationMetrics.Name.importedRows, label) == live)
        #expect(e.value(MigrationMetrics.Name.importedBytes, label) == stagedBytes)
        #expect(e.value(MigrationMetrics.Name.units, ["collection": c, "phase": "imported"]) == 3)
        #expect(e.value(MigrationMetrics.Name.units, ["collection": c, "phase": "failed"]) == 0)
        // The rerun kept all three units' files and found two of them imported.
        #expect(e.value(MigrationMetrics.Name.unitsSkipped, ["collection": c, "step": "stage"]) == 3)
        #expect(e.value(MigrationMetrics.Name.unitsSkipped, ["collection": c, "step": "load"]) == 2)
    }

    /// Insert mode: rows and bytes of acknowledged batches; units end imported; a rerun skips.
    @Test func insertModeCountsAcknowledgedBatches() async throws {
        _ = MetricsServer.registry
        let dir = TempDir("metrics-insert")
        let c = Self.uniqueCollection()
        let db = try Milvus1xDatabase(root: dir.sub("db"), version: "1.1.1")
        db.addCollection(c, dimension: 4, metric: 1)
        for s in 0..<2 {
            let ids = (0..<(20 + s)).map { Int64(s * 100 + $0) }
            try db.addSegment(table: c, ids: ids, floatRows: ids.map { [Float($0), 1, 2, 3] }, deleteBatches: [[0]])
        }
        try db.finish()
        let plan = try await planOf(db)
        var options = PipelineOptions()
        options.quiet = true
        options.loadMode = .insert
        options.insertBatchBytes = 5 * (8 + 16)
        let target = InMemoryTarget()
        let pipeline = MigrationPipeline(staging: LocalStagingArea(root: dir.sub("staged")), options: options)
        _ = try await pipeline.insert(plan, from: LocalSourceStorage(root: db.tablesPath), into: target)
        var e = Exposition(String(decoding: MetricsServer.exposition(), as: UTF8.self))
        let label = ["collection": c]
        #expect(plan.liveRows == 39)
        #expect(e.value(MigrationMetrics.Name.insertedRows, label) == 39)
        #expect(e.value(MigrationMetrics.Name.insertedBytes, label) == Double(39 * (8 + 16)), "ids and float vectors of 4")
        #expect(e.value(MigrationMetrics.Name.stagedRows, label) == nil, "nothing staged")
        #expect(e.value(MigrationMetrics.Name.units, ["collection": c, "phase": "imported"]) == 2)
        #expect(e.value(MigrationMetrics.Name.units, ["collection": c, "phase": "inserting"]) == 0)
        #expect(await target.count(of: "insert") > 2, "several batches per segment")

        _ = try await pipeline.insert(plan, from: LocalSourceStorage(root: db.tablesPath), into: target)
        e = Exposition(String(decoding: MetricsServer.exposition(), as: UTF8.self))
        #expect(e.value(MigrationMetrics.Name.insertedRows, label) == 39, "a rerun sends nothing")
        #expect(e.value(MigrationMetrics.Name.unitsSkipped, ["collection": c, "step": "load"]) == 2)
    }

    @Test func addressesParseOrNameTheOption() throws {
        #expect(try MetricsAddress(parsing: "127.0.0.1:9100") == MetricsAddress(host: "127.0.0.1", port: 9100))
        #expect(try MetricsAddress(parsing: ":9100") == MetricsAddress(host: "127.0.0.1", port: 9100))
        #expect(try MetricsAddress(parsing: "9100") == MetricsAddress(host: "127.0.0.1", port: 9100))
        #expect(try MetricsAddress(parsing: "0.0.0.0:0") == MetricsAddress(host: "0.0.0.0", port: 0))
        #expect(try MetricsAddress(parsing: "localhost:80").host == "localhost")
        #expect(try MetricsAddress(parsing: "[::1]:9100") == MetricsAddress(host: "::1", port: 9100))
        #expect(MetricsAddress(host: "::1", port: 9100).description == "[::1]:9100")
        for bad in ["", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:65536", "127.0.0.1:-1", "::1:9100", "[::1]9100", "[::1:9100", "a b:1"] {
            #expect(throws: MigrationError.self, "\(bad)") { try MetricsAddress(parsing: bad) }
            do {
                _ = try MetricsAddress(parsing: bad)
            } catch let error as MigrationError {
                guard case .usage(let message) = error else { Issue.record("\(bad): \(error)"); continue }
                #expect(message.hasPrefix("--metrics-address '\(bad)': "), "\(message)")
            }
        }
    }

    /// The server answers GET /metrics with the text format; a second server on the same port
    /// fails before its body runs, saying the address is in use.
    @Test func servesMetricsAndRefusesAPortInUse() async throws {
        _ = MetricsServer.registry
        let c = Self.uniqueCollection()
        MigrationMetrics.staged(collection: c, rows: 3, bytes: 30)
        try await MetricsServer.serving(at: MetricsAddress(host: "127.0.0.1", port: 0)) { bound in
            let port = try #require(Int(bound.split(separator: ":").last!))
            #expect(bound.hasPrefix("127.0.0.1:") && port > 0)
            let (status, type, body) = try await httpGet("http://\(bound)/metrics")
            #expect(status == 200)
            #expect(type == MetricsServer.contentType)
            #expect(Exposition(body).value(MigrationMetrics.Name.stagedRows, ["collection": c]) == 3)
            #expect(try await httpGet("http://\(bound)/nothing").0 == 404)

            var ran = false
            do {
                try await MetricsServer.serving(at: MetricsAddress(host: "127.0.0.1", port: port)) { _ in ran = true }
                Issue.record("a second server on \(bound) started")
            } catch let error as MigrationError {
                #expect(error.description == "cannot serve metrics (--metrics-address) on \(bound): address already in use", "\(error)")
            }
            #expect(!ran)
        }
    }

    /// A body that throws: its error comes out, and the server has stopped listening.
    @Test func aThrowingBodyStopsTheServer() async throws {
        var address = ""
        await #expect(throws: MigrationError.interrupted) {
            try await MetricsServer.serving(at: MetricsAddress(host: "127.0.0.1", port: 0)) { bound in
                address = bound
                throw MigrationError.interrupted
            }
        }
        let port = try #require(Int(address.split(separator: ":").last ?? ""))
        // The port is free again: a new server can listen on it.
        try await MetricsServer.serving(at: MetricsAddress(host: "127.0.0.1", port: port)) { bound in
            #expect(bound == address)
        }
    }

    /// The CLI: a malformed address is a usage error (exit 2) naming the option; a port in use
    /// fails (exit 1) before any work: nothing is staged.
    @Test func cliRefusesBadAndBusyAddresses() async throws {
        let dir = TempDir("metrics-cli")
        let db = try makeWorkedExample(at: dir.sub("db"))
        let config = dir.sub("migration.yaml")
        try localMigrationYAML(db, outputDir: dir.sub("out"), renames: [:], milvus2x: "").write(toFile: config, atomically: true, encoding: .utf8)

        for verb in ["dump", "load", "start"] {
            let (status, _, err) = try await runCLIAsync([verb, "-c", config, "--metrics-address", "localhost:port"], dir: dir)
            #expect(status == 2, "\(verb): \(err)")
            #expect(err.contains("--metrics-address 'localhost:port': the port must be a number"), "\(verb): \(err)")
        }
        try await MetricsServer.serving(at: MetricsAddress(host: "127.0.0.1", port: 0)) { bound in
            let (status, _, err) = try await runCLIAsync(["dump", "-c", config, "--quiet", "--metrics-address", bound], dir: dir)
            #expect(status == 1, "\(err)")
            #expect(err.contains("error: cannot serve metrics (--metrics-address) on \(bound): address already in use"), "\(err)")
            #expect(!FileManager.default.fileExists(atPath: dir.sub("out")), "the dump ran")
        }
        // The same dump with a free port works.
        let (status, out, err) = try await runCLIAsync(["dump", "-c", config, "--quiet", "--metrics-address", "127.0.0.1:0"], dir: dir)
        #expect(status == 0, "\(err)")
        #expect(out.contains("example"))
        #expect(err.contains("serving Prometheus metrics at http://127.0.0.1:"), "\(err)")
        // A command that fails while serving reports its own error only: the server stops
        // quietly (it is not cancelled mid-request).
        let failed = try await runCLIAsync(["load", "-c", config, "--quiet", "--metrics-address", "127.0.0.1:0"], dir: dir)
        #expect(failed.0 != 0)
        #expect(failed.2.contains("serving Prometheus metrics at"), "\(failed.2)")
        #expect(failed.2.contains("milvus-migration: error: "), "\(failed.2)")
        #expect(!failed.2.contains("error milvus-migration.metrics"), "\(failed.2)")
    }
}

/// A real `start` into the test Milvus with `--metrics-address`: `/metrics` is scraped while it
/// runs, and the last scrape before it exits must already show the final figures, which are
/// checked against the journal (staged file sizes, units), the `--report` JSON and the fixture's
/// own live rows. The counters are final once the last import completed, before the row counts
/// are checked; the run then also builds the index and loads the collections
/// (`createIndex`, `loadCollection`), seconds in which many scrapes see the final figures.
/// Enabled when the test command started Milvus (MM_SERVICES) or MILVUS_ENDPOINT names one; it
/// then fails, never skips, when the server cannot be used.
let metricsMilvusConfigured = milvusUp || ProcessInfo.processInfo.environment["MILVUS_ENDPOINT"] != nil

@Suite(.serialized, .enabled(if: metricsMilvusConfigured, "needs the Milvus started by scripts/test.sh (or MILVUS_ENDPOINT)"))
struct MetricsMilvusTests {
    @Test func startExposesCountersThatReachTheFinalFigures() async throws {
        let m = try LoadTests.Migration(rows: 2_000, segments: 3, extra: ["createIndex": "true", "loadCollection": "true"])
        let report = m.scenario.dir.sub("report.json")
        let run = try await runCLIScraping(
            ["start", "-c", m.scenario.configPath, "--quiet", "--report", report, "--metrics-address", "127.0.0.1:0"], dir: m.scenario.dir)
        let (status, out, err) = (run.status, run.out, run.err)
        #expect(status == 0, "\(err)")
        #expect(out.contains("Row counts match the source."), "\(out)")
        #expect(run.badAnswers.isEmpty, "\(run.badAnswers)")
        try #require(run.scrapes.count >= 2, "\(run.scrapes.count) scrapes, \(run.failed) failed (last: \(run.lastError)); stderr: \(err)")
        let scrapes = run.scrapes.map(Exposition.init)

        let name = MigrationMetrics.Name.self
        let collections = ["floats", "bits"]
        // The fixture's own truth: live rows per collection.
        var liveRows: [String: Double] = [:]
        for (key, rows) in m.scenario.expected { liveRows[String(key.split(separator: "/")[0]), default: 0] += Double(rows.count) }
        // The journal's: staged bytes and units per collection.
        let journalData = try Data(contentsOf: URL(fileURLWithPath: "\(m.scenario.staging)/journal.json"))
        let journal = try #require(try JSONSerialization.jsonObject(with: journalData) as? [String: Any])
        let records = try #require(journal["segments"] as? [[String: Any]])
        var stagedBytes: [String: Double] = [:], units: [String: Double] = [:]
        for r in records {
            let collection = String((r["key"] as! String).split(separator: "/")[0])
            #expect(r["phase"] as? String == "imported")
            units[collection, default: 0] += 1
            for f in r["files"] as! [[String: Any]] { stagedBytes[collection, default: 0] += (f["bytes"] as! NSNumber).doubleValue }
        }
        // The report's: rows imported per collection.
        let reportJSON = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        var reported: [String: Double] = [:]
        for c in reportJSON["collections"] as! [[String: Any]] { reported[c["collection"] as! String] = (c["rowsImported"] as! NSNumber).doubleValue }

        let last = scrapes.last!
        for c in collections {
            let label = ["collection": c]
            #expect(liveRows[c]! > 0 && reported[c] == liveRows[c], "\(c)")
            #expect(last.value(name.stagedRows, label) == liveRows[c], "\(c)")
            #expect(last.value(name.importedRows, label) == liveRows[c], "\(c)")
            #expect(last.value(name.stagedBytes, label) == stagedBytes[c], "\(c)")
            #expect(last.value(name.importedBytes, label) == stagedBytes[c], "\(c)")
            #expect(last.value(name.units, ["collection": c, "phase": "imported"]) == units[c], "\(c)")
            for phase in SegmentPhase.allCases where phase != .imported {
                #expect(last.value(name.units, ["collection": c, "phase": phase.rawValue]) == 0, "\(c) \(phase)")
            }
        }
        #expect(units.values.reduce(0, +) == 9, "3 segments of each of 3 partitions")
        #expect(last.value(name.importDuration + "_count", ["outcome": "completed"]) == 9)
        #expect(last.value(name.importDuration + "_count", ["outcome": "failed"]) == nil)
        #expect(last.matching(name.errors).isEmpty)
        // Counters never go back, and the run was seen in progress, not only at the end.
        let seen = scrapes.map { $0.value(name.importedRows) ?? 0 }
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0 <= $1 }, "\(seen)")
        #expect(seen.contains { $0 < liveRows.values.reduce(0, +) }, "no scrape saw the run before its end: \(seen)")
        let firstUnits = scrapes.first { !$0.matching(name.units).isEmpty }
        #expect((firstUnits?.value(name.units, ["phase": "imported"]) ?? 9) < 9)
        try await m.dropAll()
    }
}
