import Foundation
import NIOCore
import Testing
@testable import MilvusMigration
#if canImport(Glibc)
import Glibc
#endif

/// Every S3 operation, the remote staging area and `dump` with `target.mode: remote` against a
/// real moto_server.
@Suite(.enabled(if: Moto.enabled, "needs moto (MM_SERVICES contains moto)"))
struct S3MotoTests {
    @Test func bucketCheckAndCreate() async throws {
        let client = try Moto.client(bucket: "t-missing-\(UUID().uuidString.prefix(8).lowercased())")
        #expect(try await client.headBucket() == false)
        await #expect {
            try await client.ensureBucket(check: true, create: false)
        } throws: { error in
            "\(error)".contains("bucket '\(client.settings.bucket)' does not exist") && "\(error)".contains("createBucket: true")
        }
        try await client.ensureBucket(check: true, create: true)
        #expect(try await client.headBucket())
        try await client.createBucket() // again: already ours, fine
        try await client.ensureBucket(check: true, create: false)
    }

    @Test func objectOperations() async throws {
        let client = try await Moto.freshBucket()
        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try await client.putObject("dir/a b+c.bin", payload)
        #expect(try await client.headObject("dir/a b+c.bin") == .init(key: "dir/a b+c.bin", size: 100_000, etag: try await client.headObject("dir/a b+c.bin")?.etag))
        #expect(try await client.getObject("dir/a b+c.bin") == payload)
        #expect(try await client.getObject("dir/a b+c.bin", range: 10..<20) == Array(payload[10..<20]))
        // Ranged read into a caller's buffer, past the end: fewer bytes.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
        defer { buffer.deallocate() }
        let got = try await client.getObject("dir/a b+c.bin", at: 99_990, into: buffer)
        #expect(got == 10 && Array(buffer[0..<10]) == Array(payload[99_990...]))
        #expect(try await client.headObject("nope") == nil)
        #expect(try await client.getObject("nope") == nil)

        // Streamed PUT of known length.
        let chunks = stride(from: 0, to: payload.count, by: 30_000).map { Array(payload[$0..<min(payload.count, $0 + 30_000)]) }
        try await client.putObject("dir/streamed.bin", length: Int64(payload.count)) {
            AsyncThrowingStream { continuation in
                for chunk in chunks { continuation.yield(ByteBuffer(bytes: chunk)) }
                continuation.finish()
            }
        }
        #expect(try await client.getObject("dir/streamed.bin") == payload)

        // Listing: pages of 2, folders with a delimiter.
        for i in 0..<5 { try await client.putObject("list/f\(i)", [UInt8(i)]) }
        try await client.putObject("list/sub/x", [1])
        let page = try await client.listObjectsPage(prefix: "list/", maxKeys: 2)
        #expect(page.objects.count == 2 && page.nextToken != nil)
        let all = try await client.listObjects(prefix: "list/", pageSize: 2)
        #expect(all.objects.map(\.key) == ["list/f0", "list/f1", "list/f2", "list/f3", "list/f4", "list/sub/x"])
        let folders = try await client.listObjects(prefix: "list/", delimiter: "/", pageSize: 2)
        #expect(folders.objects.count == 5 && folders.prefixes == ["list/sub/"])

        let refused = try await client.deleteObjects(all.objects.map(\.key) + ["list/never-existed"])
        #expect(refused.isEmpty)
        #expect(try await client.listObjects(prefix: "list/").objects.isEmpty)
    }

    /// A file of 2.6 parts through the staging area: invisible until commit, three parts, bytes intact.
    @Test func multipartUploadLargerThanOnePart() async throws {
        let client = try await Moto.freshBucket { $0.partSize = 5 << 20; $0.partConcurrency = 2 }
        let area = S3StagingArea(client: client, outputDir: "/run1/")
        #expect(area.location == "s3://\(client.settings.bucket)/run1/migration")
        let size = 13 * (1 << 20) + 123
        let data = (0..<size).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        let file = try await area.create("tables/c/1/data.npy", expectedSize: Int64(size))
        #expect(file is S3MultipartObject)
        var offset = 0
        while offset < size {
            let n = min(700_001, size - offset)
            try await write(file, data[offset..<(offset + n)])
            offset += n
        }
        #expect(try await area.size(of: "tables/c/1/data.npy") == nil, "visible before commit")
        #expect(try await client.listMultipartUploads(prefix: "run1/migration/").count == 1)
        try await file.commit()
        #expect(try await area.size(of: "tables/c/1/data.npy") == Int64(size))
        let etag = try #require(try await client.headObject("run1/migration/tables/c/1/data.npy")?.etag)
        #expect(etag.hasSuffix("-3\""), "three parts: \(etag)")
        #expect(try await client.getObject("run1/migration/tables/c/1/data.npy") == data)
        #expect(try await area.readPrefix("tables/c/1/data.npy", count: 100) == Array(data[0..<100]))
        #expect(area.importPath("tables/c/1/data.npy") == "run1/migration/tables/c/1/data.npy")
        #expect(try await client.listMultipartUploads(prefix: "run1/").isEmpty)

        // Abort: no object, no upload left.
        let aborted = try await area.create("tables/c/2/data.npy", expectedSize: Int64(size))
        try await write(aborted, data[0..<(6 << 20)])
        await aborted.abort()
        #expect(try await area.size(of: "tables/c/2/data.npy") == nil)
        #expect(try await client.listMultipartUploads(prefix: "run1/").isEmpty)

        // Small file: one PUT.
        let small = try await area.create("tables/c/1/id.npy", expectedSize: 1000)
        #expect(small is S3SingleObject)
        try await write(small, data[0..<1000])
        try await small.commit()
        #expect(try await area.readSmallFile("tables/c/1/id.npy") == Array(data[0..<1000]))

        // A killed run's upload is aborted by removeLeftovers; other prefixes are not touched.
        _ = try await client.createMultipartUpload("run1/migration/tables/c/3/data.npy")
        _ = try await client.createMultipartUpload("other/x.npy")
        #expect(try await area.removeLeftovers() == 1)
        #expect(try await client.listMultipartUploads(prefix: "").map(\.key) == ["other/x.npy"])

        // A shard aborts only the uploads in its own segment folders (another shard's are in
        // progress), and finds the journals at the root.
        _ = try await client.createMultipartUpload("run1/migration/tables/c/4/data.npy")
        _ = try await client.createMultipartUpload("run1/migration/tables/c/5/data.npy")
        #expect(try await area.removeLeftovers(LeftoverScope(smallFiles: ["journal.shard-0-of-2.json"], folders: ["tables/c/4"])) == 1)
        #expect(try await client.listMultipartUploads(prefix: "run1/").map(\.key) == ["run1/migration/tables/c/5/data.npy"])
        try await area.writeSmallFile("journal.shard-0-of-2.json", Array("{}".utf8))
        try await area.writeSmallFile("journal.json", Array("{}".utf8))
        #expect(try await area.smallFiles(prefix: "journal.") == ["journal.json", "journal.shard-0-of-2.json"])
    }

    /// `dump` to the bucket, read back and compared byte for byte with a local dump; each of the
    /// 3 segments its own pair, or (groupMB 256) the 3 as one group, one pair.
    @Test(arguments: [0, 256]) func remoteDumpEqualsLocalDump(groupMB: Int) async throws {
        let fx = try await RemoteDumpFixture()
        let reference = try await fx.localDump(groupMB: groupMB)
        #expect(reference.keys.filter { $0.hasSuffix(".npy") }.count == (groupMB == 0 ? 6 : 2))
        let client = try await Moto.freshBucket()
        let config = try fx.config("remote", fx.header(groupMB: groupMB) + Moto.targetYAML(bucket: client.settings.bucket, outputDir: "/exp/one/", extra: "checkBucket: true"))
        let (status, out, err) = try await run(cliPath, ["dump", "-c", config, "--quiet"])
        #expect(status == 0, "\(err)")
        #expect(out.contains("s3://\(client.settings.bucket)/exp/one/migration"))
        let staged = try await bucketContents(client, prefix: "exp/one/migration/")
        #expect(staged["journal.json"] != nil)
        #expect(staged.filter { $0.key != "journal.json" }.keys.sorted() == reference.keys.sorted())
        for (path, bytes) in reference { #expect(staged[path] == bytes, "\(path)") }
        // The vector files (6.1 MB, or 18.4 MB for the group) went up in parts of 5 MiB.
        let vectorKey = try #require(staged.keys.first { $0.hasSuffix("data.npy") })
        #expect(try await client.headObject("exp/one/migration/\(vectorKey)")?.etag?.hasSuffix(groupMB == 0 ? "-2\"" : "-4\"") == true)
        #expect(try await client.listMultipartUploads(prefix: "").isEmpty)
    }

    /// Rerun after success uploads nothing; after deleting one object only its segment is redone.
    @Test func resumedRemoteDump() async throws {
        let dir = TempDir("resume")
        let fx = try await RemoteDumpFixture(rows: 2000, segments: 3, collections: 2, dim: 16)
        let reference = try await fx.localDump()
        let client = try await Moto.freshBucket()
        let motoPort = Int(URL(string: Moto.endpoint)!.port!)
        let proxy = try LocalServer.proxy(to: motoPort, dir: dir)
        defer { proxy.stop() }
        let config = try fx.config("remote", fx.header() + Moto.targetYAML(bucket: client.settings.bucket, outputDir: "r", endpoint: proxy.endpoint))
        func dump() async throws -> (String, [String]) {
            try? FileManager.default.removeItem(atPath: dir.sub("requests.log"))
            let (status, out, err) = try await run(cliPath, ["dump", "-c", config, "--quiet"])
            #expect(status == 0, "\(err)")
            let requests = ((try? String(contentsOfFile: dir.sub("requests.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            return (out, requests)
        }
        let (_, first) = try await dump()
        #expect(first.filter { $0.hasPrefix("PUT ") && $0.contains(".npy") }.count == 12)

        let (again, second) = try await dump()
        #expect(second.filter { $0.hasPrefix("PUT ") && $0.contains(".npy") }.isEmpty, "\(second)")
        #expect(!second.contains { $0.hasPrefix("POST ") && $0.contains("uploads") })
        #expect(again.contains("bench_0 ") && again.split(separator: "\n").first { $0.hasPrefix("bench_0 ") }!.split(separator: " ").prefix(3) == ["bench_0", "0", "3"])

        // Delete one vector file: exactly that segment (its two files) goes up again.
        let victim = try #require(try await client.listObjects(prefix: "r/migration/tables/bench_1/").objects.first { $0.key.hasSuffix("data.npy") })
        try await client.deleteObjects([victim.key])
        let segmentFolder = (victim.key as NSString).deletingLastPathComponent
        let (third, redo) = try await dump()
        let puts = redo.filter { $0.hasPrefix("PUT ") && $0.contains(".npy") }
        #expect(puts.count == 2 && puts.allSatisfy { $0.contains(segmentFolder) }, "\(puts)")
        #expect(third.split(separator: "\n").first { $0.hasPrefix("bench_1 ") }!.split(separator: " ").prefix(3) == ["bench_1", "1", "2"])
        let staged = try await bucketContents(client, prefix: "r/migration/")
        for (path, bytes) in reference { #expect(staged[path] == bytes, "\(path)") }
    }

    /// source.mode remote + meta.mode remote: the 1.x files and meta.json read from a bucket.
    @Test func remoteSourceAndRemoteMeta() async throws {
        let fx = try await RemoteDumpFixture(rows: 3000, segments: 2, collections: 2, dim: 24)
        let reference = try await fx.localDump()
        let client = try await Moto.freshBucket()
        // Upload tables/ under "v1/tables/" and the exported meta.json as "v1/meta.json".
        for (path, bytes) in try await folderContents("\(fx.db)/tables") { try await client.putObject("v1/tables/\(path)", bytes) }
        let (exportStatus, _, exportErr) = try await run(cliPath, ["export", "-s", "\(fx.db)/meta.sqlite", "-o", fx.dir.sub("exported")])
        #expect(exportStatus == 0, "\(exportErr)")
        try await client.putObject("v1/meta.json", try readBytes(fx.dir.sub("exported/meta.json")))
        let remote = """
            cloud: aws
            endpoint: \(Moto.endpoint)
            region: \(Moto.region)
            bucket: \(client.settings.bucket)
            ak: \(Moto.accessKey)
            sk: \(Moto.secretKey)
            checkBucket: true
        """
        let config = try fx.config("from-bucket", fx.header(
            source: "source:\n  mode: remote\n  remote:\n    tablesDir: /v1/tables\n\(remote)",
            meta: "meta:\n  mode: remote\n  remoteMetaFile: v1/meta.json")
            + "target:\n  mode: local\n  local:\n    outputDir: \(fx.dir.sub("from-bucket"))\n")
        let (status, _, err) = try await run(cliPath, ["dump", "-c", config, "--quiet"])
        #expect(status == 0, "\(err)")
        let got = try await folderContents(fx.dir.sub("from-bucket/migration")).filter { $0.key != "journal.json" }
        #expect(got.keys.sorted() == reference.keys.sorted())
        for (path, bytes) in reference where path.hasSuffix(".npy") { #expect(got[path] == bytes, "\(path)") }

        // A missing object is a clear error naming it.
        let source = S3SourceStorage(client: client, tablesDir: "v1/tables")
        #expect(try await source.list("nothing-here") == nil)
        await #expect {
            _ = try await source.open("1/2/missing.rv")
        } throws: { "\($0)".contains("s3://\(client.settings.bucket)/v1/tables/1/2/missing.rv") }
    }
}

/// Faults: wrong keys (moto with signature checking on), missing bucket, 503/SlowDown, dropped
/// connections and stalls (a fault proxy), and the server stopped in the middle of a dump.
@Suite(.enabled(if: Moto.enabled, "needs moto (MM_SERVICES contains moto)"), .serialized)
struct S3FaultTests {
    /// moto checks SigV4 signatures (with botocore) once IAM auth is on: an IAM user is made
    /// while auth is off, then `POST /moto-api/reset-auth 0` switches it on.
    @Test func wrongSecretKeyIsRejectedAndRightKeyPasses() async throws {
        let dir = TempDir("auth")
        let moto = try LocalServer.moto(dir: dir)
        defer { moto.stop() }
        let setup = """
        import boto3, json, sys, urllib.request
        ep = sys.argv[1]
        iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        iam.create_user(UserName="mm")
        iam.put_user_policy(UserName="mm", PolicyName="s3", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="mm")["AccessKey"]
        urllib.request.urlopen(urllib.request.Request(ep + "/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"})).read()
        print(key["AccessKeyId"], key["SecretAccessKey"])
        """
        let (status, out, err) = try await run(Moto.python, ["-c", setup, moto.endpoint], environment: ["NO_PROXY": "*", "PATH": "/usr/bin:/bin"])
        try #require(status == 0, "\(err)")
        let parts = out.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        let (ak, sk) = (parts[0], parts[1])
        let bucket = "auth-\(UUID().uuidString.prefix(8).lowercased())"

        // Right key: every kind of request passes moto's own signature check.
        let good = try Moto.client(bucket: bucket, endpoint: moto.endpoint, accessKey: ak, secretKey: sk) { $0.partSize = 5 << 20 }
        try await good.createBucket()
        #expect(try await good.headBucket())
        try await good.putObject("k/a b.bin", [1, 2, 3])
        #expect(try await good.getObject("k/a b.bin", range: 1..<3) == [2, 3])
        let area = S3StagingArea(client: good, outputDir: "x")
        let big = try await area.create("f.npy", expectedSize: 6 << 20)
        try await write(big, [UInt8](repeating: 7, count: 6 << 20))
        try await big.commit()
        #expect(try await good.listObjects(prefix: "", pageSize: 1).objects.count == 2)
        try await good.deleteObjects(["k/a b.bin"])

        // Wrong secret: SignatureDoesNotMatch, named as such, the secret not in the message.
        let wrong = try Moto.client(bucket: bucket, endpoint: moto.endpoint, accessKey: ak, secretKey: "not-the-secret-123")
        await #expect {
            try await wrong.putObject("k/b.bin", [1])
        } throws: { error in
            let text = "\(error)"
            return text.contains("SignatureDoesNotMatch") && text.contains("target.remote.sk") && text.contains(ak)
                && text.contains("s3://\(bucket)/k/b.bin") && !text.contains("not-the-secret-123") && !text.contains(sk)
        }
        // Unknown access key.
        let unknown = try Moto.client(bucket: bucket, endpoint: moto.endpoint, accessKey: "AKIANOTKNOWN00000000", secretKey: sk)
        await #expect {
            _ = try await unknown.getObject("x/f.npy")
        } throws: { "\($0)".contains("InvalidAccessKeyId") && "\($0)".contains("target.remote.ak") }
    }

    @Test func missingBucketIsAClearError() async throws {
        let fx = try await RemoteDumpFixture(rows: 100, segments: 1, collections: 1, dim: 8)
        let bucket = "absent-\(UUID().uuidString.prefix(8).lowercased())"
        let checked = try fx.config("checked", fx.header() + Moto.targetYAML(bucket: bucket, outputDir: "o", extra: "checkBucket: true"))
        let (status, _, err) = try await run(cliPath, ["dump", "-c", checked, "--quiet"])
        #expect(status == 1)
        #expect(err.contains("bucket '\(bucket)' does not exist at \(Moto.endpoint)") && err.contains("target.remote.createBucket"), "\(err)")
        #expect(err.split(separator: "\n").filter { $0.contains("error:") }.count == 1, "\(err)")
        // Without checkBucket the first request says the same.
        let unchecked = try fx.config("unchecked", fx.header() + Moto.targetYAML(bucket: bucket, outputDir: "o"))
        let (status2, _, err2) = try await run(cliPath, ["dump", "-c", unchecked, "--quiet"])
        #expect(status2 == 1 && err2.contains("bucket '\(bucket)' does not exist"), "\(err2)")
        // createBucket: true makes it.
        let create = try fx.config("create", fx.header() + Moto.targetYAML(bucket: bucket, outputDir: "o", extra: "checkBucket: true\ncreateBucket: true"))
        let (status3, _, err3) = try await run(cliPath, ["dump", "-c", create, "--quiet"])
        #expect(status3 == 0, "\(err3)")
        #expect(try await Moto.client(bucket: bucket).headObject("o/migration/meta.json") != nil)
    }

    @Test func retriesOn503SlowDownDroppedConnectionsAndStalls() async throws {
        let dir = TempDir("retry")
        let motoPort = Int(URL(string: Moto.endpoint)!.port!)
        let bucket = try await Moto.freshBucket().settings.bucket

        // Three 503 SlowDown answers, then success.
        let slow = try LocalServer.proxy(to: motoPort, dir: dir, mode: "slowdown", count: 3)
        let c1 = try Moto.client(bucket: bucket, endpoint: slow.endpoint)
        try await c1.putObject("a", [1, 2, 3])
        #expect(try await c1.getObject("a") == [1, 2, 3])
        slow.stop()

        // Two connections dropped without an answer, then success (multipart parts included).
        let drop = try LocalServer.proxy(to: motoPort, dir: dir, mode: "drop", count: 2)
        let c2 = try Moto.client(bucket: bucket, endpoint: drop.endpoint) { $0.partSize = 5 << 20 }
        let area = S3StagingArea(client: c2, outputDir: nil)
        let file = try await area.create("big.npy", expectedSize: 11 << 20)
        let data = (0..<(11 << 20)).map { UInt8(truncatingIfNeeded: $0 / 3) }
        try await write(file, data)
        try await file.commit()
        #expect(try await c2.getObject("migration/big.npy") == data)
        drop.stop()

        // A Complete that went through but whose answer was lost: the retry gets NoSuchUpload,
        // the object is there and whole, so the commit succeeds.
        let lose = try LocalServer.proxy(to: motoPort, dir: dir, mode: "lose-complete", count: 1)
        let c5 = try Moto.client(bucket: bucket, endpoint: lose.endpoint) { $0.partSize = 5 << 20 }
        let again = try await S3StagingArea(client: c5, outputDir: "lost").create("big.npy", expectedSize: 11 << 20)
        try await write(again, data)
        try await again.commit()
        #expect(try await c5.getObject("lost/migration/big.npy") == data)
        let completes = try String(contentsOfFile: dir.sub("requests.log"), encoding: .utf8).split(separator: "\n")
            .filter { $0.hasPrefix("POST /\(bucket)/lost/migration/big.npy?uploadId=") }
        #expect(completes.count == 2, "the lost Complete was retried")
        lose.stop()

        // A stalled request times out and is retried.
        func getsOfA() throws -> Int {
            try String(contentsOfFile: dir.sub("requests.log"), encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("GET /\(bucket)/a") }.count
        }
        let getsBefore = try getsOfA()
        let stall = try LocalServer.proxy(to: motoPort, dir: dir, mode: "stall", count: 1, stallSeconds: 5)
        let c3 = try Moto.client(bucket: bucket, endpoint: stall.endpoint) { $0.requestTimeout = 1 }
        #expect(try await c3.getObject("a", range: 0..<3) == [1, 2, 3])
        // No wall-clock bound (the machine may be busy): the log shows the stalled attempt and the retry.
        #expect(try getsOfA() - getsBefore == 2, "one stalled request, one retry")
        stall.stop()

        // Retries run out: the last answer is reported.
        let always = try LocalServer.proxy(to: motoPort, dir: dir, mode: "slowdown", count: 100)
        defer { always.stop() }
        let c4 = try Moto.client(bucket: bucket, endpoint: always.endpoint) { $0.maxAttempts = 3 }
        await #expect {
            try await c4.putObject("b", [1])
        } throws: { "\($0)".contains("HTTP 503 [SlowDown") && "\($0)".contains("s3://\(bucket)/b") }
        let attempts = try String(contentsOfFile: dir.sub("requests.log"), encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("PUT /\(bucket)/b") }
        #expect(attempts.count == 3)
    }

    /// moto is killed while `dump` uploads; the dump fails with a clear message; after a
    /// restart the rerun completes and the bucket holds exactly the local dump.
    @Test func serverStoppedMidUploadThenRerun() async throws {
        let dir = TempDir("stop")
        let fx = try await RemoteDumpFixture(rows: 40_000, segments: 6, collections: 2, dim: 128)
        let reference = try await fx.localDump()
        var moto = try LocalServer.moto(dir: dir)
        let port = moto.port
        defer { moto.stop() }
        let bucket = "stop-\(UUID().uuidString.prefix(8).lowercased())"
        // The dump talks to moto through a proxy that delays every request after the first three,
        // so the server is certainly stopped while uploads are still to come.
        let slow = try LocalServer.proxy(to: port, dir: dir, mode: "slow", count: 3, stallSeconds: 0.3)
        defer { slow.stop() }
        let config = try fx.config("remote", fx.header() + Moto.targetYAML(bucket: bucket, outputDir: "s", endpoint: slow.endpoint,
                                                                            extra: "createBucket: true\nmaxRetries: 2\nuploadConcurrency: 1"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cliPath)
        process.arguments = ["dump", "-c", config, "--quiet"]
        let errPipe = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errPipe
        let ended = try launch(process)
        // Stop the server once the first segment is in.
        let client = try Moto.client(bucket: bucket, endpoint: moto.endpoint)
        let deadline = Date().addingTimeInterval(60)
        var seen = "nothing listed"
        let began = Date()
        while Date() < deadline && process.isRunning {
            do {
                let list = try await client.listObjects(prefix: "s/migration/tables/")
                seen = "\(list.objects.count) objects after \(Date().timeIntervalSince(began)) s"
                if !list.objects.isEmpty { break }
            } catch {
                seen = "\(error)"
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(process.isRunning, "the dump ended before the server could be stopped; the test proves nothing")
        // SIGKILL: on SIGTERM moto closes its listening socket but keeps serving busy keep-alive
        // connections until they go idle, so the dump would simply finish.
        moto.stop(grace: 0)
        #expect(!LocalServer.canConnect(port))
        let stopped = Date()
        let err = try await onThread { String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        await ended.value
        #expect(process.terminationStatus == 1, "\(seen); \(err)")
        #expect(Date().timeIntervalSince(stopped) < 20, "retries are bounded")
        #expect(err.contains("no answer from \(slow.endpoint)") || err.contains("Connection refused") || err.contains("closed"), "\(err)")

        // moto keeps everything in memory: the restarted server is empty, so the rerun uploads all
        // (straight to moto this time, without the slow proxy).
        moto = try LocalServer.moto(port: port, dir: dir)
        let direct = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: slow.endpoint, with: moto.endpoint)
        try direct.write(toFile: config, atomically: true, encoding: .utf8)
        let (status, _, err2) = try await run(cliPath, ["dump", "-c", config, "--quiet"])
        #expect(status == 0, "\(err2)")
        let staged = try await bucketContents(try Moto.client(bucket: bucket, endpoint: moto.endpoint), prefix: "s/migration/")
        #expect(staged.filter { $0.key != "journal.json" }.keys.sorted() == reference.keys.sorted())
        for (path, bytes) in reference { #expect(staged[path] == bytes, "\(path)") }
    }

    /// The endpoint goes away mid-upload while the bucket keeps its state (the proxy in front of
    /// moto is killed): the rerun redoes only the segments the journal does not list as staged,
    /// aborts the unfinished uploads, and ends with exactly the local dump.
    @Test func endpointLostMidUploadThenRerunResumes() async throws {
        let dir = TempDir("outage")
        let fx = try await RemoteDumpFixture(rows: 40_000, segments: 6, collections: 2, dim: 128)
        let reference = try await fx.localDump()
        let direct = try await Moto.freshBucket()
        let bucket = direct.settings.bucket
        let motoPort = Int(URL(string: Moto.endpoint)!.port!)
        var proxy = try LocalServer.proxy(to: motoPort, dir: dir)
        let port = proxy.port
        defer { proxy.stop() }
        let config = try fx.config("remote", fx.header() + Moto.targetYAML(bucket: bucket, outputDir: "o", endpoint: proxy.endpoint,
                                                                            extra: "maxRetries: 1\nuploadConcurrency: 1"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cliPath)
        process.arguments = ["dump", "-c", config, "--quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let ended = try launch(process)
        // Cut once the journal lists two staged segments.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && process.isRunning {
            if let bytes = try? await direct.getObject("o/migration/journal.json"),
               String(decoding: bytes, as: UTF8.self).components(separatedBy: "\"staged\"").count > 2 { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(process.isRunning, "the dump ended before the endpoint could be cut; the test proves nothing")
        proxy.stop(grace: 0)
        await ended.value
        #expect(process.terminationStatus == 1)

        // What the journal says is staged must not be sent again.
        let journalBytes = try #require(try await direct.getObject("o/migration/journal.json"))
        let journal = try #require(try JSONSerialization.jsonObject(with: Data(journalBytes)) as? [String: Any])
        let segments = try #require(journal["segments"] as? [[String: Any]])
        let staged = Set(segments.filter { $0["phase"] as? String == "staged" }
            .flatMap { ($0["files"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String } })
        #expect(!staged.isEmpty && staged.count < 24, "\(staged.count) files staged before the cut")

        proxy = try LocalServer.proxy(to: motoPort, dir: dir, port: port)
        try? FileManager.default.removeItem(atPath: dir.sub("requests.log"))
        let (status, out, err) = try await run(cliPath, ["dump", "-c", config, "--quiet"])
        #expect(status == 0, "\(err)")
        let requests = try String(contentsOfFile: dir.sub("requests.log"), encoding: .utf8).split(separator: "\n")
        let sent = Set(requests.filter { $0.hasPrefix("PUT ") && $0.contains(".npy") }
            .map { String($0.dropFirst("PUT /\(bucket)/o/migration/".count).prefix { $0 != "?" }) })
        #expect(sent.isDisjoint(with: staged), "\(sent.intersection(staged))")
        #expect(sent.count == 24 - staged.count, "\(sent.count) sent, \(staged.count) kept")
        #expect(out.contains("skipped"))
        #expect(try await direct.listMultipartUploads(prefix: "o/").isEmpty)
        let contents = try await bucketContents(direct, prefix: "o/migration/")
        #expect(contents.filter { $0.key != "journal.json" }.keys.sorted() == reference.keys.sorted())
        for (path, bytes) in reference { #expect(contents[path] == bytes, "\(path)") }
    }

    /// useIAM with web identity: the token is exchanged at (moto's) STS, the temporary keys and
    /// session token sign the S3 requests.
    @Test func webIdentityCredentialsFromSTS() async throws {
        let dir = TempDir("irsa")
        try "eyJ-a-token".write(toFile: dir.sub("token"), atomically: true, encoding: .utf8)
        var r = MigrationConfig.RemoteStorage()
        r.cloud = .minio
        r.endpoint = Moto.endpoint
        r.bucket = "irsa-\(UUID().uuidString.prefix(8).lowercased())"
        r.useIAM = true
        let settings = try S3Settings.resolve(r, file: "m.yaml", base: "target.remote", environment: [
            "HOME": dir.path, "AWS_WEB_IDENTITY_TOKEN_FILE": dir.sub("token"), "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/milvus",
            "AWS_ROLE_SESSION_NAME": "mm-test", "AWS_ENDPOINT_URL_STS": Moto.endpoint])
        let refresher = try #require(settings.refresher)
        let client = S3Client(settings: settings)
        try await client.createBucket()
        try await client.putObject("a", [1, 2])
        #expect(try await client.getObject("a") == [1, 2])
        let credentials = try await refresher.current()
        #expect(!credentials.accessKey.isEmpty && credentials.sessionToken != nil)
        #expect(await refresher.fetches == 1, "cached until shortly before expiry")
    }

    /// useIAM with container credentials (ECS/EKS): a loopback endpoint that checks the
    /// authorization token; credentials expiring within 5 minutes are fetched again.
    @Test func containerCredentialsAreFetchedAndRefreshed() async throws {
        let dir = TempDir("ecs")
        let server = """
        import http.server, json, sys, datetime
        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_GET(self):
                if self.headers.get("Authorization") != "pod-token" or self.path != "/creds":
                    self.send_response(403); self.send_header("Content-Length", "0"); self.end_headers(); return
                exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
                data = json.dumps({"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "s", "Token": "t", "Expiration": exp}).encode()
                self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
        http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
        """
        try server.write(toFile: dir.sub("ecs.py"), atomically: true, encoding: .utf8)
        let endpoint = try LocalServer.start(Moto.python, log: dir.sub("ecs.log")) { [dir.sub("ecs.py"), String($0)] }
        defer { endpoint.stop() }
        try "pod-token\n".write(toFile: dir.sub("token"), atomically: true, encoding: .utf8)
        var r = MigrationConfig.RemoteStorage()
        r.cloud = .minio
        r.endpoint = Moto.endpoint
        r.bucket = "ecs-\(UUID().uuidString.prefix(8).lowercased())"
        r.useIAM = true
        let settings = try S3Settings.resolve(r, file: "m.yaml", base: "target.remote", environment: [
            "HOME": dir.path, "AWS_CONTAINER_CREDENTIALS_FULL_URI": "\(endpoint.endpoint)/creds",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": dir.sub("token")])
        let refresher = try #require(settings.refresher)
        let client = S3Client(settings: settings)
        try await client.createBucket()
        try await client.putObject("a", [3])
        #expect(try await refresher.current().accessKey == "ASIACONTAINER")
        #expect(await refresher.fetches == 3, "expiring in 2 minutes: fetched again for each use")

        // A wrong token is a clear error naming the endpoint.
        let bad = try S3Settings.resolve(r, file: "m.yaml", base: "target.remote", environment: [
            "HOME": dir.path, "AWS_CONTAINER_CREDENTIALS_FULL_URI": "\(endpoint.endpoint)/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong"])
        await #expect {
            try await S3Client(settings: bad).putObject("b", [1])
        } throws: { "\($0)".contains("GetContainerCredentials") && "\($0)".contains("HTTP 403") }
    }
}
