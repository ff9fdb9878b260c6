import Foundation
import Testing
@testable import MilvusMigration
#if canImport(Glibc)
import Glibc
#endif

/// The S3 tests run against the real moto_server the test command starts (MM_SERVICES contains
/// `moto`). When it does, an unreachable moto fails them; without it they are skipped.
enum Moto {
    static let env = ProcessInfo.processInfo.environment
    static var enabled: Bool { (env["MM_SERVICES"] ?? "").split(separator: ",").contains("moto") }
    static var endpoint: String { env["MM_S3_ENDPOINT"] ?? "http://127.0.0.1:9000" }
    static var accessKey: String { env["MM_S3_ACCESS_KEY"] ?? "minioadmin" }
    static var secretKey: String { env["MM_S3_SECRET_KEY"] ?? "minioadmin" }
    static var region: String { env["MM_S3_REGION"] ?? "us-east-1" }
    static var cache: String { env["MM_CACHE"] ?? "\(NSHomeDirectory())/.cache/milvus-migration" }
    static var serverBinary: String { "\(cache)/venv-moto/bin/moto_server" }
    static var python: String { "\(cache)/venv-moto/bin/python" }

    /// A client of `bucket` on `endpoint` (the shared moto unless given).
    static func client(bucket: String, endpoint: String = Moto.endpoint, accessKey: String = Moto.accessKey,
                       secretKey: String = Moto.secretKey, tune: (inout S3Settings) -> Void = { _ in }) throws -> S3Client {
        var r = MigrationConfig.RemoteStorage()
        r.cloud = .minio
        r.endpoint = endpoint
        r.bucket = bucket
        r.region = region
        r.accessKey = Secret(accessKey)
        r.secretKey = Secret(secretKey)
        var settings = try S3Settings.resolve(r, file: "test", base: "target.remote", environment: [:])
        settings.backoffBase = 0.05
        tune(&settings)
        return S3Client(settings: settings)
    }

    /// A new, empty bucket of its own for one test.
    static func freshBucket(endpoint: String = Moto.endpoint, tune: (inout S3Settings) -> Void = { _ in }) async throws -> S3Client {
        let client = try client(bucket: "t-\(UUID().uuidString.prefix(12).lowercased())", endpoint: endpoint, tune: tune)
        try await client.createBucket()
        return client
    }

    /// A remote target section of migration.yaml.
    static func targetYAML(bucket: String, outputDir: String, endpoint: String = Moto.endpoint, extra: String = "") -> String {
        """
        target:
          mode: remote
          remote:
            outputDir: \(outputDir)
            cloud: aws
            endpoint: \(endpoint)
            region: \(region)
            bucket: \(bucket)
            ak: \(accessKey)
            sk: \(secretKey)
            useSSL: false
            partSizeMB: 5
        \(extra.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n"))
        """
    }
}

/// A server process a test starts itself on a free loopback port (its own moto_server, or the
/// fault proxy). Stopped by its pid only: SIGTERM, then SIGKILL after 5 s.
final class LocalServer: @unchecked Sendable {
    let process: Process
    let port: Int
    var endpoint: String { "http://127.0.0.1:\(port)" }

    private init(process: Process, port: Int) {
        self.process = process
        self.port = port
    }

    /// Starts `arguments(port)` on a random free port and waits until it accepts connections.
    static func start(_ executable: String, log: String, environment: [String: String] = [:],
                      port fixed: Int? = nil, arguments: (Int) -> [String]) throws -> LocalServer {
        var lastError = "no attempt"
        for _ in 0..<6 {
            let port = fixed ?? Int.random(in: 20_000..<45_000)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments(port)
            var env = ProcessInfo.processInfo.environment
            for (k, v) in environment { env[k] = v }
            process.environment = env
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline && process.isRunning {
                if canConnect(port) { return LocalServer(process: process, port: port) }
                Thread.sleep(forTimeInterval: 0.05)
            }
            lastError = (try? String(contentsOfFile: log, encoding: .utf8)) ?? "?"
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            if fixed != nil { break }
        }
        throw MigrationError.usage("could not start \(executable): \(lastError.suffix(2000))")
    }

    static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// Its own moto_server (in memory, accepts any key unless IAM auth is switched on).
    static func moto(port: Int? = nil, dir: TempDir) throws -> LocalServer {
        try start(Moto.serverBinary, log: dir.sub("moto-\(UUID().uuidString.prefix(6)).log"), port: port) { ["-H", "127.0.0.1", "-p", String($0)] }
    }

    /// The fault proxy in front of `target`: logs each request as "METHOD PATH" to `requestLog`;
    /// `mode` slowdown|drop|stall applies to the first `count` requests; slow delays every request
    /// after the first `count` by `stallSeconds`; lose-complete forwards the
    /// first `count` CompleteMultipartUpload requests and then drops the connection unanswered;
    /// error500 answers the first `count` requests with 500 InternalError / 503 ServiceUnavailable
    /// in turn; reset-body cuts the first `count` GET answers with a body after half of it (TCP
    /// reset); ignore-range drops the `Range` header of GETs whose range starts at byte `count`
    /// or later, so moto answers 200 with the whole object (a server that ignores Range).
    static func proxy(to target: Int, dir: TempDir, mode: String = "pass", count: Int = 0, stallSeconds: Double = 0,
                      port: Int? = nil) throws -> LocalServer {
        let script = dir.sub("faultproxy.py")
        try faultProxyScript.write(toFile: script, atomically: true, encoding: .utf8)
        return try start(Moto.python, log: dir.sub("proxy.log"), port: port) {
            [script, String($0), String(target), mode, String(count), String(stallSeconds), dir.sub("requests.log")]
        }
    }

    /// SIGTERM, then SIGKILL after `grace` seconds (0: SIGKILL at once).
    func stop(grace: Double = 5) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, grace > 0 ? SIGTERM : SIGKILL)
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// A tiny HTTP/1.1 proxy (Python standard library only) that forwards to moto and injects faults.
let faultProxyScript = #"""
import http.client, http.server, socket, struct, sys, threading, time
listen, target, mode, count, stall, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
lock = threading.Lock()
seen = [0]
losses = [0]
resets = [0]

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with lock:
            seen[0] += 1
            n = seen[0]
            with open(log, "a") as f:
                f.write("%s %s\n" % (self.command, self.path))
        if n <= count and mode == "slowdown":
            data = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            self.send_response(503)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if n <= count and mode == "error500":
            code, status = ("InternalError", 500) if n % 2 else ("ServiceUnavailable", 503)
            data = ("<Error><Code>%s</Code><Message>storm</Message></Error>" % code).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if n <= count and mode == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        lose = False
        if mode == "lose-complete" and self.command == "POST" and "uploadId=" in self.path:
            with lock:
                lose = losses[0] < count
                losses[0] += 1
        if n <= count and mode == "stall":
            time.sleep(stall)
            self.close_connection = True
            return
        if n > count and mode == "slow":
            time.sleep(stall)
        headers = dict(self.headers.items())
        if mode == "ignore-range" and self.command == "GET":
            for k in [k for k in headers if k.lower() == "range"]:
                start = headers[k].split("=", 1)[-1].split("-", 1)[0]
                if start.isdigit() and int(start) >= count:
                    del headers[k]
        conn = http.client.HTTPConnection("127.0.0.1", target, timeout=60)
        conn.request(self.command, self.path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if lose:
            # The server did the work; the answer is lost on the way back.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("transfer-encoding", "connection", "server", "date"):
                continue
            if k.lower() == "content-length" and self.command != "HEAD":
                continue
            self.send_header(k, v)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        cut = False
        if mode == "reset-body" and self.command == "GET" and r.status in (200, 206) and len(data) > 1:
            with lock:
                cut = resets[0] < count
                resets[0] += 1
        if cut:
            # Half the body, then a TCP reset: the client sees the connection die mid-body.
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            conn.close()
            return
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()
    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", listen), Handler).serve_forever()
"""#

/// Every object under `prefix` of a bucket, key (relative to the prefix) → bytes.
func bucketContents(_ client: S3Client, prefix: String) async throws -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    for object in try await client.listObjects(prefix: prefix).objects {
        out[String(object.key.dropFirst(prefix.count))] = try await client.getObject(object.key)
    }
    return out
}

/// Every file under a local folder, relative path → bytes.
func folderContents(_ root: String) async throws -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    for path in FileManager.default.subpaths(atPath: root) ?? [] {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: "\(root)/\(path)", isDirectory: &isDirectory), !isDirectory.boolValue {
            out[path] = try readBytes("\(root)/\(path)")
        }
    }
    return out
}

/// A 1.x database written by the `sample` command, with config files for a local dump and a
/// remote one.
struct RemoteDumpFixture {
    let dir = TempDir("s3dump")
    var db: String { dir.sub("db") }

    init(rows: Int = 12_000, segments: Int = 3, collections: Int = 1, dim: Int = 128) async throws {
        let (status, _, err) = try await run(cliPath, ["sample", "-o", dir.sub("db"), "--bench-collections", String(collections),
                                                 "--segments", String(segments), "--rows", String(rows), "--dim", String(dim)])
        guard status == 0 else { throw MigrationError.usage("sample failed: \(err)") }
    }

    /// `groupMB` 0 (each segment its own pair) unless a test is about grouping.
    func header(source: String? = nil, meta: String? = nil, groupMB: Int = 0) -> String {
        """
        dumper:
          worker:
            workMode: milvus1x
            limit: 2
            groupMB: \(groupMB)
        \(meta ?? "meta:\n  mode: sqlite\n  sqliteFile: \(db)/meta.sqlite")
        \(source ?? "source:\n  mode: local\n  local:\n    tablesDir: \(db)/tables")

        """
    }

    /// Writes a config and returns its path.
    func config(_ name: String, _ text: String) throws -> String {
        let path = dir.sub("\(name).yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Dumps locally (the reference) into `<dir>/local/migration`.
    func localDump(groupMB: Int = 0) async throws -> [String: [UInt8]] {
        let path = try config("local", header(groupMB: groupMB) + "target:\n  mode: local\n  local:\n    outputDir: \(dir.sub("local"))\n")
        let (status, _, err) = try await run(cliPath, ["dump", "-c", path, "--quiet"])
        guard status == 0 else { throw MigrationError.usage("local dump failed: \(err)") }
        return try await folderContents(dir.sub("local/migration")).filter { $0.key != "journal.json" }
    }
}

/// Writes bytes to a staged file (through a raw buffer, as the converter does).
func write<C: Collection>(_ file: any StagedFile, _ bytes: C) async throws where C.Element == UInt8 {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
    defer { buffer.deallocate() }
    buffer.copyBytes(from: bytes)
    try await file.write(UnsafeRawBufferPointer(buffer))
}
