import Foundation
import Testing
@testable import MilvusMigration
#if canImport(Glibc)
import Glibc
#endif

/// The storage side of issue 11's fault campaign, against the real moto behind the fault proxy:
/// error storms, connection resets mid-body, a server that ignores `Range`, temporary credentials
/// that expire mid-run. Each ends with the staged files byte-identical to an uninterrupted dump.
extension S3FaultTests {
    /// `source.mode: remote` reading `v1/tables/` of `bucket` through `endpoint`.
    static func remoteSource(bucket: String, endpoint: String, extra: String = "") -> String {
        """
        source:
          mode: remote
          remote:
            tablesDir: /v1/tables
            cloud: aws
            endpoint: \(endpoint)
            region: \(Moto.region)
            bucket: \(bucket)
            ak: \(Moto.accessKey)
            sk: \(Moto.secretKey)
            useSSL: false
        \(extra.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n"))
        """
    }

    /// Uploads the fixture's `tables/` under `v1/tables/` of a fresh bucket.
    static func uploadTables(_ fx: RemoteDumpFixture) async throws -> S3Client {
        let client = try await Moto.freshBucket()
        for (path, bytes) in try await folderContents("\(fx.db)/tables") { try await client.putObject("v1/tables/\(path)", bytes) }
        return client
    }

    static var motoPort: Int { Int(URL(string: Moto.endpoint)!.port!) }

    static func requests(_ dir: TempDir) -> [String] {
        ((try? String(contentsOfFile: dir.sub("requests.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// A proxy that honours the first ranged read of a file but answers later ones (the read-ahead)
    /// with `200` and the whole object. The old code copied that body into a buffer of the range's
    /// size (a debug-only bound check: a crash here, a heap overflow in release builds). Now: a
    /// clear error naming the object, exit 1, and nothing wrong staged.
    @Test func serverIgnoringRangeIsAClearErrorNotAnOverflow() async throws {
        let dir = TempDir("range")
        let fx = try await RemoteDumpFixture(rows: 12_000, segments: 2, collections: 1, dim: 128)
        let reference = try await fx.localDump()
        let client = try await S3FaultTests.uploadTables(fx)
        let bucket = client.settings.bucket
        // Ranges starting at byte 4096 or later are ignored: headers and the first chunk of each
        // file are read fine, the read-ahead of the vector files (at 1 MiB) gets the whole object.
        let proxy = try LocalServer.proxy(to: S3FaultTests.motoPort, dir: dir, mode: "ignore-range", count: 4096)
        defer { proxy.stop() }
        let out = fx.dir.sub("ranged")
        let config = try fx.config("ranged", fx.header(source: S3FaultTests.remoteSource(bucket: bucket, endpoint: proxy.endpoint))
            + "target:\n  mode: local\n  local:\n    outputDir: \(out)\n")
        let (status, stdout, err) = try await run(cliPath, ["dump", "-c", config, "--quiet"])
        #expect(status == 1, "exit \(status) (a signal number means a crash): \(err)")
        #expect(err.contains("ignored the byte range") && err.contains("s3://\(bucket)/v1/tables/") && err.contains(".rv"), "\(err)")
        #expect(!stdout.contains("Dumped"))
        #expect(S3FaultTests.requests(dir).contains { $0.hasPrefix("GET ") && $0.contains(".rv") }, "the proxy saw the reads")
        // Nothing half-written, and nothing staged differs from the reference.
        let staged = try await folderContents("\(out)/migration")
        #expect(!staged.keys.contains { $0.hasSuffix(".partial") })
        for (path, bytes) in staged where path.hasSuffix(".npy") { #expect(reference[path].map { $0 == bytes } == true, "\(path) differs") }

        // Straight to the server the same dump completes, identical to the local one.
        let direct = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: proxy.endpoint, with: Moto.endpoint)
        try direct.write(toFile: config, atomically: true, encoding: .utf8)
        let (status2, _, err2) = try await run(cliPath, ["dump", "-c", config, "--quiet"])
        #expect(status2 == 0, "\(err2)")
        let done = try await folderContents("\(out)/migration").filter { $0.key != "journal.json" }
        #expect(done.keys.sorted() == reference.keys.sorted())
        for (path, bytes) in reference { #expect(done[path].map { $0 == bytes } == true, "\(path) differs") }
    }

    /// Reads whose answers are cut mid-body (TCP reset after half the bytes) are retried whole;
    /// the dump from the bucket equals the local one.
    @Test func connectionResetsMidBodyAreRetried() async throws {
        let dir = TempDir("reset")
        let fx = try await RemoteDumpFixture(rows: 6000, segments: 2, collections: 1, dim: 128)
        let reference = try await fx.localDump()
        let client = try await S3FaultTests.uploadTables(fx)
        let proxy = try LocalServer.proxy(to: S3FaultTests.motoPort, dir: dir, mode: "reset-body", count: 8)
        defer { proxy.stop() }
        let out = fx.dir.sub("reset")
        let config = try fx.config("reset", fx.header(source: S3FaultTests.remoteSource(bucket: client.settings.bucket, endpoint: proxy.endpoint))
            + "target:\n  mode: local\n  local:\n    outputDir: \(out)\n")
        let (status, _, err) = try await run(cliPath, ["dump", "-c", config, "--quiet"])
        #expect(status == 0, "\(err)")
        let gets = S3FaultTests.requests(dir).filter { $0.hasPrefix("GET ") }.count
        #expect(gets > 8, "\(gets) GETs: the 8 cut answers were retried")
        let staged = try await folderContents("\(out)/migration").filter { $0.key != "journal.json" }
        #expect(staged.keys.sorted() == reference.keys.sorted())
        for (path, bytes) in reference { #expect(staged[path].map { $0 == bytes } == true, "\(path) differs") }
    }

    /// A storm of consecutive 500/503 answers, then recovery: the dump completes, identical. A
    /// storm longer than the retries: a clear error naming the object, exit 1, no success
    /// summary; the rerun after the storm completes, identical.
    @Test func errorStormsRecoverAndExhaustionIsAClearError() async throws {
        let dir = TempDir("storm")
        let fx = try await RemoteDumpFixture(rows: 4000, segments: 2, collections: 1, dim: 64)
        let reference = try await fx.localDump()
        let bucket = try await Moto.freshBucket().settings.bucket

        let storm = try LocalServer.proxy(to: S3FaultTests.motoPort, dir: dir, mode: "error500", count: 6)
        let config = try fx.config("storm", fx.header() + Moto.targetYAML(bucket: bucket, outputDir: "storm", endpoint: storm.endpoint, extra: "maxRetries: 10"))
        let (status, _, err) = try await run(cliPath, ["dump", "-c", config, "--quiet"])
        storm.stop()
        #expect(status == 0, "\(err)")
        #expect(S3FaultTests.requests(dir).count > 6)
        let staged = try await bucketContents(try Moto.client(bucket: bucket), prefix: "storm/migration/")
        #expect(staged.filter { $0.key != "journal.json" }.keys.sorted() == reference.keys.sorted())
        for (path, bytes) in reference { #expect(staged[path].map { $0 == bytes } == true, "\(path) differs") }

        let endless = try LocalServer.proxy(to: S3FaultTests.motoPort, dir: dir, mode: "error500", count: 1_000_000)
        defer { endless.stop() }
        let failing = try fx.config("endless", fx.header() + Moto.targetYAML(bucket: bucket, outputDir: "endless", endpoint: endless.endpoint, extra: "maxRetries: 2"))
        let (status2, out2, err2) = try await run(cliPath, ["dump", "-c", failing, "--quiet"])
        #expect(status2 == 1, "\(err2)")
        #expect((err2.contains("HTTP 500 [InternalError") || err2.contains("HTTP 503 [ServiceUnavailable")) && err2.contains("s3://\(bucket)"), "\(err2)")
        #expect(!out2.contains("Dumped"))
        let direct = try String(contentsOfFile: failing, encoding: .utf8).replacingOccurrences(of: endless.endpoint, with: Moto.endpoint)
        try direct.write(toFile: failing, atomically: true, encoding: .utf8)
        let (status3, _, err3) = try await run(cliPath, ["dump", "-c", failing, "--quiet"])
        #expect(status3 == 0, "\(err3)")
        let after = try await bucketContents(try Moto.client(bucket: bucket), prefix: "endless/migration/")
        #expect(after.filter { $0.key != "journal.json" }.keys.sorted() == reference.keys.sorted())
        for (path, bytes) in reference { #expect(after[path].map { $0 == bytes } == true, "\(path) differs") }
        #expect(try await Moto.client(bucket: bucket).listMultipartUploads(prefix: "").isEmpty)
    }

    /// Temporary credentials that stop working in the middle of a dump. A loopback container
    /// credentials endpoint hands out keys of new IAM users of a moto that checks signatures, and
    /// deletes each key 1.5 s after handing it out, although it announces an hour (clock skew, a
    /// revoked session: the server decides when keys expire). The old client kept using the
    /// cached key and failed with InvalidAccessKeyId; now a refused key is dropped, new ones are
    /// fetched and the request is resent. The dump ends identical to an uninterrupted one.
    @Test func temporaryCredentialsExpiringMidRunAreFetchedAgain() async throws {
        let dir = TempDir("expiry")
        let fx = try await RemoteDumpFixture(rows: 12_000, segments: 3, collections: 1, dim: 64)
        let reference = try await fx.localDump()
        let moto = try LocalServer.moto(dir: dir)
        defer { moto.stop() }
        let setup = """
        import boto3, json, sys, urllib.request
        ep = sys.argv[1]
        iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        iam.create_user(UserName="admin")
        iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        urllib.request.urlopen(urllib.request.Request(ep + "/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"})).read()
        print(key["AccessKeyId"], key["SecretAccessKey"])
        """
        let (setupStatus, keys, setupErr) = try await run(Moto.python, ["-c", setup, moto.endpoint], environment: ["NO_PROXY": "*", "PATH": "/usr/bin:/bin"])
        try #require(setupStatus == 0, "\(setupErr)")
        let admin = keys.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        let server = """
        import boto3, datetime, http.server, json, sys, threading
        port, ep, ak, sk, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
        iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1", aws_access_key_id=ak, aws_secret_access_key=sk)
        lock = threading.Lock()
        issued = [0]
        def note(text):
            with open(log, "a") as f:
                f.write(text + "\\n")
        def revoke(user, key):
            with lock:
                iam.delete_access_key(UserName=user, AccessKeyId=key)
            note("revoked " + key)
        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_GET(self):
                if self.headers.get("Authorization") != "pod-token":
                    self.send_response(403); self.send_header("Content-Length", "0"); self.end_headers(); return
                with lock:
                    issued[0] += 1
                    user = "k%d" % issued[0]
                    iam.create_user(UserName=user)
                    iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
                    key = iam.create_access_key(UserName=user)["AccessKey"]
                note("issued " + key["AccessKeyId"])
                threading.Timer(1.5, revoke, (user, key["AccessKeyId"])).start()
                exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
                data = json.dumps({"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"], "Expiration": exp}).encode()
                self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
        http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
        """
        try server.write(toFile: dir.sub("creds.py"), atomically: true, encoding: .utf8)
        let endpoint = try LocalServer.start(Moto.python, log: dir.sub("creds.log"), environment: ["NO_PROXY": "*"]) {
            [dir.sub("creds.py"), String($0), moto.endpoint, admin[0], admin[1], dir.sub("keys.log")]
        }
        defer { endpoint.stop() }
        // The bucket, made with the admin key.
        let bucket = "exp-\(UUID().uuidString.prefix(8).lowercased())"
        try await Moto.client(bucket: bucket, endpoint: moto.endpoint, accessKey: admin[0], secretKey: admin[1]).createBucket()
        // Requests go through a proxy that delays each by 0.15 s, so the dump outlives several keys.
        let slow = try LocalServer.proxy(to: moto.port, dir: dir, mode: "slow", count: 0, stallSeconds: 0.15)
        defer { slow.stop() }
        let target = """
        target:
          mode: remote
          remote:
            outputDir: exp
            cloud: aws
            endpoint: \(slow.endpoint)
            region: \(Moto.region)
            bucket: \(bucket)
            useIAM: true
            useSSL: false
            partSizeMB: 5
            uploadConcurrency: 1
        """
        let config = try fx.config("expiry", fx.header() + target)
        var environment = ProcessInfo.processInfo.environment
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"] { environment[name] = nil }
        environment["HOME"] = dir.path
        environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "\(endpoint.endpoint)/creds"
        environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "pod-token"
        let (status, _, err) = try await run(cliPath, ["dump", "-c", config, "--quiet"], environment: environment)
        #expect(status == 0, "\(err)")
        let events = ((try? String(contentsOfFile: dir.sub("keys.log"), encoding: .utf8)) ?? "").split(separator: "\n")
        let issued = events.filter { $0.hasPrefix("issued ") }.count
        #expect(issued >= 2, "keys handed out: \(events)")
        #expect(events.contains { $0.hasPrefix("revoked ") }, "a key expired during the dump: \(events)")
        let staged = try await bucketContents(try Moto.client(bucket: bucket, endpoint: moto.endpoint, accessKey: admin[0], secretKey: admin[1]), prefix: "exp/migration/")
        #expect(staged.filter { $0.key != "journal.json" }.keys.sorted() == reference.keys.sorted())
        for (path, bytes) in reference { #expect(staged[path].map { $0 == bytes } == true, "\(path) differs") }
        #expect(!err.contains(admin[1]))
    }
}
