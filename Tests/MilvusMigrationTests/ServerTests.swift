import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import MilvusMigration
#if canImport(Glibc)
import Glibc
#endif

/// `milvus-migration server` as a process of its own, on a free port, talking real HTTP.
final class JobServerProcess: @unchecked Sendable {
    let process = Process()
    let ended: Task<Void, Never>
    let port: Int
    let token: String?
    let log: String

    /// Starts the server and waits for its "listening on" line.
    init(stateDir: String, config: String?, token: String?, log: String) async throws {
        self.token = token
        self.log = log
        process.executableURL = URL(fileURLWithPath: cliPath)
        process.arguments = ["server", "--port", "0", "--state-dir", stateDir] + (config.map { ["-c", $0] } ?? []) + (token.map { ["--token", $0] } ?? [])
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        ended = try launch(process)
        let deadline = Date().addingTimeInterval(60)
        var found: Int?
        while found == nil && Date() < deadline && process.isRunning {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"listening on http://127\.0\.0\.1:(\d+)/"#, options: .regularExpression) {
                found = Int(text[range].split(separator: ":").last!.dropLast())
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        guard let found else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw MigrationError.usage("the server did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        port = found
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// One request; returns the HTTP status and the JSON body (nil when it is not JSON).
    func call(_ method: HTTPMethod, _ path: String, body: String? = nil, token: String?? = .none,
              headers: [(String, String)] = []) async throws -> (status: Int, json: [String: Any]?, text: String) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let bearer = token ?? self.token { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(300))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let text = String(buffer: bytes)
        let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
        return (Int(response.status.code), json, text)
    }

    func job(_ id: String) async throws -> [String: Any] {
        let (status, json, text) = try await call(.GET, "/api/v1/get_job?jobId=\(id)")
        guard status == 200, let data = json?["data"] as? [String: Any] else { throw MigrationError.usage("get_job \(id): \(status) \(text)") }
        return data
    }

    /// Polls get_job until the job has ended; returns its last JobInfo and every finishTasks seen.
    func waitForEnd(_ id: String, seconds: Double = 300) async throws -> (info: [String: Any], finished: [Int]) {
        let deadline = Date().addingTimeInterval(seconds)
        var seen: [Int] = []
        while Date() < deadline {
            let info = try await job(id)
            seen.append(info["finishTasks"] as? Int ?? -1)
            if let status = info["jobStatus"] as? String, status == "success" || status == "fail" { return (info, seen) }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw MigrationError.usage("job \(id) did not end within \(seconds) s")
    }

    /// Polls get_job until `ready` holds (or the job ended).
    func waitUntil(_ id: String, seconds: Double = 120, _ ready: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let info = try await job(id)
            if ready(info) || ["success", "fail"].contains(info["jobStatus"] as? String ?? "") { return info }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw MigrationError.usage("job \(id): condition not reached within \(seconds) s")
    }

    /// SIGKILL without waiting (a `defer` on a failure path).
    func killNow() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    func kill9() async {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        await ended.value
    }

    /// SIGTERM, and SIGKILL if it has not stopped within 20 s.
    func stop() async {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let process = process
        let deadline = Task {
            guard (try? await Task.sleep(for: .seconds(20))) != nil, process.isRunning else { return }
            kill(process.processIdentifier, SIGKILL)
        }
        await ended.value
        deadline.cancel()
    }
}

/// Rows the journal records for its units.
func journalRows(_ path: String) throws -> (units: Int, rows: Int64) {
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    let segments = json["segments"] as! [[String: Any]]
    return (segments.count, segments.reduce(0) { $0 + (($1["rows"] as? NSNumber)?.int64Value ?? 0) })
}

/// The job API's contract, with a dump job (no Milvus needed): the reference's shapes and job ids,
/// the token, 4xx answers, totals that match the journal, files equal to a CLI dump.
@Suite struct ServerAPITests {
    @Test func contractTokenErrorsAndADumpJob() async throws {
        let fx = try await RemoteDumpFixture(rows: 3000, segments: 2, collections: 2, dim: 24)
        let reference = try await fx.localDump()
        let config = try fx.config("server", fx.header() + "target:\n  mode: local\n  local:\n    outputDir: \(fx.dir.sub("served"))\n")
        let server = try await JobServerProcess(stateDir: fx.dir.sub("state"), config: config, token: "t0ken-\(UUID().uuidString.prefix(6))", log: fx.dir.sub("server.log"))
        defer { server.killNow() }

        // healthy needs no token and answers the reference's envelope.
        let healthy = try await server.call(.GET, "/api/v1/healthy", token: .some(nil))
        #expect(healthy.status == 200 && healthy.json?["code"] as? Int == 0 && healthy.json?["data"] as? String == "ok", "\(healthy.text)")
        // Everything else needs the bearer token.
        let noToken = try await server.call(.GET, "/api/v1/jobs", token: .some(nil))
        #expect(noToken.status == 401 && noToken.json?["code"] as? Int == 401, "\(noToken.text)")
        let wrongToken = try await server.call(.POST, "/api/v1/dump", body: "{}", token: "wrong")
        #expect(wrongToken.status == 401, "\(wrongToken.text)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: fx.dir.sub("state/jobs")).isEmpty, "a refused request started no job")
        // Bad requests: 4xx with one sentence.
        let unknown = try await server.call(.GET, "/api/v1/get_job?jobId=dump_000000000000000000000")
        #expect(unknown.status == 404 && (unknown.json?["msg"] as? String ?? "").contains("no job dump_000000000000000000000"), "\(unknown.text)")
        let traversal = try await server.call(.GET, "/api/v1/get_job?jobId=../../etc/passwd")
        #expect(traversal.status == 404, "\(traversal.text)")
        let noId = try await server.call(.GET, "/api/v1/get_job")
        #expect(noId.status == 400 && (noId.json?["msg"] as? String ?? "").contains("jobId"), "\(noId.text)")
        let wrongMethod = try await server.call(.GET, "/api/v1/dump")
        #expect(wrongMethod.status == 405, "\(wrongMethod.text)")
        let notJSON = try await server.call(.POST, "/api/v1/dump", body: "{not json")
        #expect(notJSON.status == 400, "\(notJSON.text)")
        let wrongType = try await server.call(.POST, "/api/v1/dump", body: #"{"async": "yes"}"#)
        #expect(wrongType.status == 400 && (wrongType.json?["msg"] as? String ?? "").contains("'async'"), "\(wrongType.text)")
        let missing = try await server.call(.POST, "/api/v1/dump", body: #"{"config": "\#(fx.dir.sub("nope.yaml"))"}"#)
        #expect(missing.status == 400 && (missing.json?["msg"] as? String ?? "").contains("nope.yaml"), "\(missing.text)")
        // load needs target.milvus2x: refused before any job exists, naming the key.
        let noMilvus = try await server.call(.POST, "/api/v1/load", body: #"{"async": true}"#)
        #expect(noMilvus.status == 400 && (noMilvus.json?["msg"] as? String ?? "").contains("target.milvus2x"), "\(noMilvus.text)")

        // A synchronous dump: the answer comes once it is done, with the reference's job id shape.
        let dump = try await server.call(.POST, "/api/v1/dump", body: #"{"async": false, "requestId": "body-id"}"#, headers: [("RequestId", "req-42")])
        #expect(dump.status == 200 && dump.json?["code"] as? Int == 0 && dump.json?["requestId"] as? String == "req-42", "\(dump.text)")
        let id = try #require((dump.json?["data"] as? [String: Any])?["jobId"] as? String)
        #expect(id.range(of: "^dump_[0-9A-Za-z]{21}$", options: .regularExpression) != nil, "\(id)")
        let info = try await server.job(id)
        let (units, rows) = try journalRows(fx.dir.sub("served/migration/journal.json"))
        #expect(info["jobStatus"] as? String == "success" && info["jobProcess"] as? Int == 100 && info["msg"] as? String == "success")
        #expect(info["totalTasks"] as? Int == units && info["finishTasks"] as? Int == units && units == 4, "\(info)")
        #expect(info["requestId"] as? String == "req-42")
        let detail = try #require(info["detail"] as? [String: Any])
        #expect((detail["doneRows"] as? NSNumber)?.int64Value == rows && rows > 0, "\(detail)")
        #expect((detail["collections"] as? [[String: Any]])?.count == 2)
        // The staged files are the CLI's, byte for byte.
        let served = try await folderContents(fx.dir.sub("served/migration")).filter { $0.key != "journal.json" }
        #expect(served.keys.sorted() == reference.keys.sorted())
        for (path, bytes) in reference where path.hasSuffix(".npy") { #expect(served[path] == bytes, "\(path)") }

        // The jobs' metrics, behind the token too.
        let metrics = try await server.call(.GET, "/metrics")
        let stagedRows = metrics.text.split(separator: "\n").filter { $0.hasPrefix("milvus_migration_staged_rows_total") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
        #expect(metrics.status == 200 && Int64(stagedRows) == rows, "\(metrics.text.prefix(1500))")
        #expect(try await server.call(.GET, "/metrics", token: .some(nil)).status == 401)
        // The job list and the page.
        let jobs = try await server.call(.GET, "/api/v1/jobs")
        #expect((jobs.json?["data"] as? [[String: Any]])?.first?["jobId"] as? String == id, "\(jobs.text)")
        let page = try await server.call(.GET, "/", token: .some(nil))
        #expect(page.status == 200 && page.text.contains("<title>milvus-migration</title>") && !page.text.contains("src=\"http"))
        // A failing job ends `fail` with the tool's sentence (HTTP 200, code 500, as the reference).
        let bad = try await server.call(.POST, "/api/v1/dump", body: #"{"collectionNames": ["nope"]}"#)
        #expect(bad.status == 200 && bad.json?["code"] as? Int == 500 && (bad.json?["msg"] as? String ?? "").contains("no collection 'nope'"), "\(bad.text)")
        // A port in use is a usage error naming it; SIGTERM stops the server cleanly (exit 0).
        let taken = try await run(cliPath, ["server", "--port", String(server.port), "--state-dir", fx.dir.sub("state2")])
        #expect(taken.0 == 2 && taken.2.contains("cannot listen on 127.0.0.1:\(server.port)"), "\(taken.2)")
        await server.stop()
        #expect(server.process.terminationReason == .exit && server.process.terminationStatus == 0)
    }
}

/// Cancel, one job per journal, and a job that survives a server killed with SIGKILL: a dump
/// from a bucket behind a slow proxy (moto: every request after the third waits 0.5 s, so a job
/// of 6 units takes seconds even on a loaded machine), so the job is certainly mid-way when it is hit.
@Suite(.enabled(if: Moto.enabled, "needs the moto started by scripts/test.sh"))
struct ServerJobLifecycleTests {
    @Test func cancelOneJobPerJournalAndResumeAfterAServerKill() async throws {
        let fx = try await RemoteDumpFixture(rows: 4000, segments: 3, collections: 2, dim: 24)
        let reference = try await fx.localDump()
        let client = try await Moto.freshBucket()
        for (path, bytes) in try await folderContents("\(fx.db)/tables") { try await client.putObject("v1/tables/\(path)", bytes) }
        let motoPort = try #require(Int(Moto.endpoint.split(separator: ":").last ?? ""))
        let slow = try LocalServer.proxy(to: motoPort, dir: fx.dir, mode: "slow", count: 3, stallSeconds: 0.5)
        defer { slow.stop() }
        let remote = """
            cloud: aws
            endpoint: \(slow.endpoint)
            region: \(Moto.region)
            bucket: \(client.settings.bucket)
            ak: \(Moto.accessKey)
            sk: \(Moto.secretKey)
        """
        let config = try fx.config("slow", fx.header(source: "source:\n  mode: remote\n  remote:\n    tablesDir: /v1/tables\n\(remote)")
            .replacingOccurrences(of: "limit: 2", with: "limit: 1")
            + "target:\n  mode: local\n  local:\n    outputDir: \(fx.dir.sub("served"))\n")
        let state = fx.dir.sub("state")
        let first = try await JobServerProcess(stateDir: state, config: config, token: nil, log: fx.dir.sub("server1.log"))
        defer { first.killNow() }
        var server = first

        let submitted = try await server.call(.POST, "/api/v1/dump", body: #"{"async": true}"#)
        let id1 = try #require((submitted.json?["data"] as? [String: Any])?["jobId"] as? String, "\(submitted.text)")
        // One job at a time per journal.
        let second = try await server.call(.POST, "/api/v1/dump", body: #"{"async": true}"#)
        #expect(second.status == 409 && (second.json?["msg"] as? String ?? "").contains(id1), "\(second.text)")
        // Cancel once a unit is done.
        let midway = try await server.waitUntil(id1) { ($0["finishTasks"] as? Int ?? 0) >= 1 }
        #expect(midway["jobStatus"] as? String == "running", "the job ended before it could be cancelled; the test proves nothing: \(midway)")
        let cancel = try await server.call(.POST, "/api/v1/cancel", body: #"{"jobId": "\#(id1)"}"#)
        #expect(cancel.status == 200, "\(cancel.text)")
        let (cancelled, _) = try await server.waitForEnd(id1, seconds: 60)
        #expect(cancelled["jobStatus"] as? String == "fail" && cancelled["msg"] as? String == "cancelled by request", "\(cancelled)")
        let total = cancelled["totalTasks"] as? Int ?? 0
        #expect(total == 6 && (cancelled["finishTasks"] as? Int ?? 0) < total, "\(cancelled)")
        let again = try await server.call(.POST, "/api/v1/cancel", body: #"{"jobId": "\#(id1)"}"#)
        #expect(again.status == 409, "\(again.text)")

        // The next job resumes; the server is killed mid-way, and its successor finishes the job.
        let resumed = try await server.call(.POST, "/api/v1/dump", body: #"{"async": true}"#)
        let id2 = try #require((resumed.json?["data"] as? [String: Any])?["jobId"] as? String, "\(resumed.text)")
        let before = try await server.waitUntil(id2) { ($0["finishTasks"] as? Int ?? 0) >= (cancelled["finishTasks"] as? Int ?? 0) + 1 }
        #expect(before["jobStatus"] as? String == "running", "the job ended before the server could be killed; the test proves nothing: \(before)")
        await server.kill9()
        let successor = try await JobServerProcess(stateDir: state, config: config, token: nil, log: fx.dir.sub("server2.log"))
        defer { successor.killNow() }
        server = successor
        let (done, _) = try await server.waitForEnd(id2)
        #expect(done["jobStatus"] as? String == "success" && done["resumes"] as? Int == 1, "\(done)")
        #expect(done["finishTasks"] as? Int == 6 && done["totalTasks"] as? Int == 6, "\(done)")
        // The first job still answers after the restart, as it ended.
        #expect(try await server.job(id1)["msg"] as? String == "cancelled by request")
        let served = try await folderContents(fx.dir.sub("served/migration")).filter { $0.key != "journal.json" }
        #expect(served.keys.sorted() == reference.keys.sorted())
        for (path, bytes) in reference where path.hasSuffix(".npy") { #expect(served[path] == bytes, "\(path)") }
        await server.stop()
    }
}

/// Real migrations through the job API into the test Milvus, watched by the status page in
/// headless Chromium (installed by scripts/test.sh): what the page shows is checked against the job.
@Suite(.serialized, .enabled(if: milvusUp, "needs the Milvus started by scripts/test.sh"))
struct ServerMilvusTests {
    static var chromium: String { ProcessInfo.processInfo.environment["MM_CHROMIUM"] ?? "/usr/bin/chromium" }

    /// Runs headless Chromium on `url`: a screenshot to `screenshot`, or the DOM after the page's
    /// scripts ran (returned).
    static func chromium(_ url: String, screenshot: String? = nil, home: String) async throws -> String {
        let profile = "\(home)/chromium-\(UUID().uuidString.prefix(6))"
        var arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                         "--hide-scrollbars", "--user-data-dir=\(profile)", "--window-size=1280,1400", "--virtual-time-budget=6000"]
        arguments += screenshot.map { ["--screenshot=\($0)"] } ?? ["--dump-dom"]
        let (status, out, err) = try await run(chromium, arguments + [url], environment: ["HOME": home])
        #expect(status == 0, "chromium: \(err)")
        return out
    }

    /// `data-*` attributes of the page's collection rows: collection -> attribute -> value.
    static func collectionRows(_ dom: String) -> [String: [String: String]] {
        var rows: [String: [String: String]] = [:]
        let pattern = try! NSRegularExpression(pattern: #"<tr data-collection="([^"]+)"([^>]*)>"#)
        let attr = try! NSRegularExpression(pattern: #"data-([a-z-]+)="([^"]*)""#)
        for m in pattern.matches(in: dom, range: NSRange(dom.startIndex..., in: dom)) {
            let name = String(dom[Range(m.range(at: 1), in: dom)!])
            let rest = String(dom[Range(m.range(at: 2), in: dom)!])
            var values: [String: String] = [:]
            for a in attr.matches(in: rest, range: NSRange(rest.startIndex..., in: rest)) {
                values[String(rest[Range(a.range(at: 1), in: rest)!])] = String(rest[Range(a.range(at: 2), in: rest)!])
            }
            rows[name] = values
        }
        return rows
    }

    @Test func dumpLoadAndStartJobsWithTheStatusPage() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.chromium), "scripts/test.sh installs chromium (MM_CHROMIUM=\(Self.chromium))")
        let m = try LoadTests.Migration(rows: 3000, segments: 3)
        let token = "page-\(UUID().uuidString.prefix(8))"
        let server = try await JobServerProcess(stateDir: m.scenario.dir.sub("state"), config: m.scenario.configPath, token: token,
                                                log: m.scenario.dir.sub("server.log"))
        defer { server.killNow() }

        let dump = try await server.call(.POST, "/api/v1/dump", body: #"{"async": false}"#)
        #expect(dump.json?["code"] as? Int == 0, "\(dump.text)")
        // load, asynchronously: finishTasks advances to totalTasks while it runs.
        let load = try await server.call(.POST, "/api/v1/load", body: #"{"async": true}"#)
        let loadId = try #require((load.json?["data"] as? [String: Any])?["jobId"] as? String, "\(load.text)")
        #expect(loadId.hasPrefix("load_"))
        let screenshot = m.scenario.dir.sub("status-page.png")
        let home = m.scenario.dir.path
        let url = "\(server.base)/#token=\(token)"
        async let shot = Self.chromium(url, screenshot: screenshot, home: home)
        let (info, seen) = try await server.waitForEnd(loadId)
        _ = try await shot
        let (units, rows) = try journalRows("\(m.scenario.staging)/journal.json")
        #expect(info["jobStatus"] as? String == "success", "\(info)")
        #expect(info["totalTasks"] as? Int == units && info["finishTasks"] as? Int == units && units > 1, "\(info)")
        #expect(seen == seen.sorted() && seen.last == units, "finishTasks went \(seen)")
        let detail = try #require(info["detail"] as? [String: Any])
        #expect((detail["doneRows"] as? NSNumber)?.int64Value == rows, "\(detail)")
        let verify = try await m.cli("verify", ["--full", "--load"])
        #expect(verify.0 == 0 && verify.1.contains("Milvus matches the source."), "\(verify.1)\(verify.2)")
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "screenshot of \(png.count) bytes")
        if let keep = ProcessInfo.processInfo.environment["MM_SCREENSHOT_DIR"] {
            try? FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
            try? png.write(to: URL(fileURLWithPath: "\(keep)/status-page.png"))
        }

        // What the page shows of the finished job is what the job API says, collection by collection.
        let dom = try await Self.chromium("\(server.base)/?jobId=\(loadId)#token=\(token)", home: home)
        #expect(dom.contains("data-job-id=\"\(loadId)\"") && dom.contains("data-status=\"success\""), "\(dom.prefix(2000))")
        let shown = Self.collectionRows(dom)
        let byCollection = (detail["collections"] as? [[String: Any]] ?? []).reduce(into: [String: [String: Any]]()) { $0[$1["name"] as! String] = $1 }
        #expect(Set(shown.keys) == Set(byCollection.keys) && shown.count == 2, "\(shown.keys) vs \(byCollection.keys)")
        for (name, c) in byCollection {
            #expect(shown[name]?["done-rows"] == "\((c["doneRows"] as? NSNumber)?.int64Value ?? -1)", "\(name)")
            #expect(shown[name]?["units"] == "\(c["units"] as? Int ?? -1)" && shown[name]?["done-units"] == "\(c["units"] as? Int ?? -2)", "\(name)")
            #expect(shown[name]?["target"] == m.names[name], "\(name)")
        }
        #expect(dom.contains("\(units) / \(units)"), "the page shows the units done")

        // start, with a config named by the request: a second migration of its own.
        let other = try LoadTests.Migration(rows: 1000, segments: 2)
        let start = try await server.call(.POST, "/api/v1/start", body: #"{"async": false, "config": "\#(other.scenario.configPath)", "collectionNames": ["floats"]}"#)
        #expect(start.json?["code"] as? Int == 0, "\(start.text)")
        let startId = try #require((start.json?["data"] as? [String: Any])?["jobId"] as? String)
        let started = try await server.job(startId)
        #expect(started["jobStatus"] as? String == "success" && started["collectionNames"] as? [String] == ["floats"], "\(started)")
        let floats = (started["detail"] as? [String: Any])?["collections"] as? [[String: Any]] ?? []
        #expect(floats.map { $0["name"] as? String } == ["floats"], "\(floats)")
        let verifyOther = try await other.cli("verify", ["--col", "floats", "--full", "--load"])
        #expect(verifyOther.0 == 0, "\(verifyOther.1)\(verifyOther.2)")
        await server.stop()
    }
}
