import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import MilvusMigration

/// SigV4 against AWS's published examples, and the pure parts of the S3 layer (provider
/// resolution, credentials, error messages, part sizes). No server needed.
@Suite struct S3SignatureTests {
    /// The S3 examples of "Authenticating Requests: Using the Authorization Header" (AWS S3 API
    /// reference, sig-v4-header-based-auth): bucket examplebucket, 2013-05-24, us-east-1.
    static let s3AccessKey = "AKIAIOSFODNN7EXAMPLE"
    static let s3SecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let s3Time = "20130524T000000Z"
    static let s3Host = "examplebucket.s3.amazonaws.com"

    @Test func awsTestSuiteGetVanilla() {
        // aws-sig-v4-test-suite/get-vanilla: service "service", AKIDEXAMPLE.
        let signer = SigV4(region: "us-east-1", service: "service")
        let request = SigV4.Request(method: "GET", canonicalURI: "/",
                                    headers: [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")],
                                    payloadHash: SigV4.emptyPayloadHash)
        let signed = signer.sign(request, accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", timestamp: "20150830T123600Z")
        #expect(signed.canonicalRequest == "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(signed.stringToSign == "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63")
        #expect(signed.signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(signed.authorization == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    func s3Sign(_ method: String, _ uri: String, query: [(String, String)] = [], headers: [(String, String)], payload: String) -> SigV4.Signed {
        SigV4(region: "us-east-1").sign(
            .init(method: method, canonicalURI: uri, query: query,
                  headers: [("Host", Self.s3Host), ("x-amz-date", Self.s3Time), ("x-amz-content-sha256", payload)] + headers, payloadHash: payload),
            accessKey: Self.s3AccessKey, secretKey: Self.s3SecretKey, timestamp: Self.s3Time)
    }

    @Test func awsS3ExampleGetObject() {
        let signed = s3Sign("GET", "/test.txt", headers: [("Range", "bytes=0-9")], payload: SigV4.emptyPayloadHash)
        #expect(signed.canonicalRequest == """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(signed.stringToSign == "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")
        #expect(signed.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func awsS3ExamplePutObject() {
        let payload = SigV4.sha256Hex(Array("Welcome to Amazon S3.".utf8))
        #expect(payload == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        // The key `test$file.text` is encoded once in the canonical URI.
        let uri = "/" + SigV4.uriEncode("test$file.text", keepSlash: true)
        #expect(uri == "/test%24file.text")
        let signed = s3Sign("PUT", uri, headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")], payload: payload)
        #expect(signed.stringToSign.hasSuffix("\n9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"))
        #expect(signed.signedHeaders == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class")
        #expect(signed.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func awsS3ExamplesWithQueries() {
        // GET ?lifecycle: a bare sub-resource is signed as "lifecycle=".
        let lifecycle = s3Sign("GET", "/", query: [("lifecycle", "")], headers: [], payload: SigV4.emptyPayloadHash)
        #expect(lifecycle.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[2] == "lifecycle=")
        #expect(lifecycle.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
        // GET ?max-keys=2&prefix=J, given in the other order: sorted before signing.
        let list = s3Sign("GET", "/", query: [("prefix", "J"), ("max-keys", "2")], headers: [], payload: SigV4.emptyPayloadHash)
        #expect(list.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[2] == "max-keys=2&prefix=J")
        #expect(list.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func uriEncoding() {
        #expect(SigV4.uriEncode("a b/c~d%é", keepSlash: true) == "a%20b/c~d%25%C3%A9")
        #expect(SigV4.uriEncode("a/b+c=", keepSlash: false) == "a%2Fb%2Bc%3D")
        #expect(SigV4.uriEncode("A-z_0.9~", keepSlash: false) == "A-z_0.9~")
        #expect(SigV4.timestamp(Date(timeIntervalSince1970: 1_369_353_600)) == "20130524T000000Z")
    }

    func remote(_ cloud: MigrationConfig.Cloud, endpoint: String? = nil, region: String? = nil, ssl: Bool = false, bucket: String = "my-bucket") -> MigrationConfig.RemoteStorage {
        var r = MigrationConfig.RemoteStorage()
        r.cloud = cloud
        r.endpoint = endpoint
        r.region = region
        r.useSSL = ssl
        r.bucket = bucket
        r.accessKey = Secret("AK")
        r.secretKey = Secret("SECRET-VALUE")
        return r
    }

    func settings(_ r: MigrationConfig.RemoteStorage, env: [String: String] = [:]) throws -> S3Settings {
        try S3Settings.resolve(r, file: "m.yaml", base: "target.remote", environment: env)
    }

    @Test func providersResolveToEndpoints() throws {
        let aws = try settings(remote(.aws, region: "eu-west-1"))
        #expect(aws.host == "s3.eu-west-1.amazonaws.com" && aws.useSSL && aws.addressing == .virtualHost)
        #expect(aws.location(of: "a b/c.npy") == ("my-bucket.s3.eu-west-1.amazonaws.com", "/a%20b/c.npy"))
        #expect(try settings(remote(.aws)).region == "us-east-1")
        // Dotted bucket names stay path-style (TLS wildcard certificates do not cover them).
        #expect(try settings(remote(.aws, bucket: "my.bucket")).addressing == .path)

        let minio = try settings(remote(.aws, endpoint: "127.0.0.1:9000"))
        #expect(minio.endpointDescription == "http://127.0.0.1:9000" && minio.addressing == .path && !minio.useSSL && minio.signPayload)
        #expect(minio.location(of: "x/y.npy") == ("127.0.0.1:9000", "/my-bucket/x/y.npy"))
        #expect(minio.location(of: nil) == ("127.0.0.1:9000", "/my-bucket"))
        let url = try settings(remote(.minio, endpoint: "https://minio.local:9443/"))
        #expect(url.useSSL && url.host == "minio.local:9443" && !url.signPayload)
        #expect(throws: MigrationError.self) { try settings(remote(.minio)) }

        let gcp = try settings(remote(.gcp))
        #expect(gcp.host == "storage.googleapis.com" && gcp.useSSL && gcp.region == "auto" && gcp.addressing == .path)
        let ali = try settings(remote(.ali, region: "oss-cn-hangzhou"))
        #expect(ali.host == "oss-cn-hangzhou.oss.aliyuncs.com" && ali.addressing == .virtualHost)
        let tc = try settings(remote(.tc, region: "ap-guangzhou"))
        #expect(tc.host == "cos.ap-guangzhou.myqcloud.com" && tc.useSSL && tc.addressing == .virtualHost)
        #expect {
            try settings(remote(.azure))
        } throws: { "\($0)".contains("azure") && "\($0)".contains("not supported") }
    }

    @Test func credentialsFromConfigEnvironmentOrSharedFile() throws {
        var r = remote(.aws, endpoint: "h:1")
        #expect(try settings(r).credentials.accessKey == "AK")
        #expect(!"\(try settings(r).credentials)".contains("SECRET"))
        r.accessKey = nil
        r.secretKey = nil
        #expect(try settings(r).credentials.isAnonymous)
        r.secretKey = Secret("x")
        #expect(throws: MigrationError.self) { try settings(r) }

        r.useIAM = true
        let env = try settings(r, env: ["AWS_ACCESS_KEY_ID": "ENVAK", "AWS_SECRET_ACCESS_KEY": "ENVSK", "AWS_SESSION_TOKEN": "TOK"]).credentials
        #expect(env.accessKey == "ENVAK" && env.secretKey.revealed == "ENVSK" && env.sessionToken?.revealed == "TOK")
        let dir = TempDir("aws")
        try "[default]\naws_access_key_id = A1\naws_secret_access_key=S1\n\n[other]\naws_access_key_id=A2\naws_secret_access_key = S2\naws_session_token = T2\n"
            .write(toFile: dir.sub("credentials"), atomically: true, encoding: .utf8)
        let shared = try settings(r, env: ["AWS_SHARED_CREDENTIALS_FILE": dir.sub("credentials"), "AWS_PROFILE": "other"]).credentials
        #expect(shared.accessKey == "A2" && shared.secretKey.revealed == "S2" && shared.sessionToken?.revealed == "T2")
        #expect {
            try settings(r, env: ["HOME": dir.path])
        } throws: { "\($0)".contains("target.remote.useIAM") && "\($0)".contains("no credentials found") && "\($0)".contains("instance metadata is not queried") }
        #expect {
            try settings(r, env: ["HOME": dir.path, "AWS_WEB_IDENTITY_TOKEN_FILE": "/x"])
        } throws: { "\($0)".contains("AWS_ROLE_ARN") }
        // Web identity and container credentials come with a refresher (fetched on first use).
        let web = try settings(r, env: ["HOME": dir.path, "AWS_WEB_IDENTITY_TOKEN_FILE": "/x", "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"])
        #expect(web.refresher?.origin == "web identity (role arn:aws:iam::1:role/r)")
        let ecs = try settings(r, env: ["HOME": dir.path, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x"])
        #expect(ecs.refresher?.origin == "container credentials (http://169.254.170.2/v2/credentials/x)")
    }

    func client(region: String = "us-east-1") throws -> S3Client {
        S3Client(settings: try settings(remote(.aws, endpoint: "127.0.0.1:9", region: region)))
    }

    @Test func errorAnswersBecomeClearMessages() throws {
        let c = try client()
        func message(_ status: Int, _ xml: String, key: String? = "out/migration/a.npy", headers: HTTPHeaders = [:]) -> String {
            c.failure("PutObject", key: key, status: status, headers: headers, body: Array(xml.utf8)).description
        }
        let wrongRegion = message(400, "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region></Error>")
        #expect(wrongRegion.contains("wrong region") && wrongRegion.contains("target.remote.region: eu-west-1") && wrongRegion.contains("s3://my-bucket/out/migration/a.npy"))
        let redirect = message(301, "", key: nil, headers: ["x-amz-bucket-region": "ap-south-1"])
        #expect(redirect.contains("'ap-south-1'"))
        let signature = message(403, "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>")
        #expect(signature.contains("target.remote.sk") && signature.contains("'AK'") && !signature.contains("SECRET-VALUE"))
        #expect(message(403, "<Error><Code>InvalidAccessKeyId</Code></Error>").contains("target.remote.ak"))
        let bucket = message(404, "<Error><Code>NoSuchBucket</Code><BucketName>my-bucket</BucketName></Error>")
        #expect(bucket.contains("bucket 'my-bucket' does not exist") && bucket.contains("createBucket"))
        #expect(message(404, "", key: nil).contains("does not exist"))
        #expect(message(403, "", key: nil).contains("access denied"))
        #expect(message(500, "<Error><Code>InternalError</Code><Message>boom</Message></Error>").contains("HTTP 500 [InternalError: boom]"))
        #expect(S3ErrorBody(Array("<Error><Code>SlowDown</Code></Error>".utf8))!.isRetryable)
        // The S3 error code travels with the error, for code to switch on (never the message).
        let noUpload = c.failure("CompleteMultipartUpload", key: "a.npy", status: 404, headers: [:],
                                 body: Array("<Error><Code>NoSuchUpload</Code></Error>".utf8))
        #expect(noUpload.storageCode == "NoSuchUpload")
        #expect(noUpload.description.hasSuffix("[NoSuchUpload]"))
        #expect(c.failure("PutObject", key: "a.npy", status: 503, headers: [:], body: []).storageCode == nil)
    }

    @Test func partSizesAndKeys() {
        #expect(S3StagingArea.partSize(for: 100 << 20, configured: 8 << 20) == 8 << 20)
        // 200 GiB in at most 10,000 parts: 21 MiB parts.
        #expect(S3StagingArea.partSize(for: 200 << 30, configured: 8 << 20) == 21 << 20)
        #expect(S3StagingArea.rootKey(nil) == "migration")
        #expect(S3StagingArea.rootKey("/out//x/") == "out/x/migration")
        #expect(S3StagingArea.rootKey("testfiles/output/") == "testfiles/output/migration")
    }

    @Test func remoteConfigKeysParse() throws {
        let config = try MigrationConfig.parse("""
        dumper:
          worker:
            workMode: milvus1x
        target:
          mode: remote
          remote:
            outputDir: out
            cloud: minio
            endpoint: 127.0.0.1:9000
            bucket: b
            ak: a
            sk: s
            checkBucket: true
            createBucket: true
            partSizeMB: 16
            uploadConcurrency: 3
            maxRetries: 2
        """, file: "m.yaml")
        let s = try S3Settings.resolve(config.target.remote, file: "m.yaml", base: "target.remote")
        #expect(s.partSize == 16 << 20 && s.partConcurrency == 3 && s.maxAttempts == 3)
        #expect(config.target.remote.createBucket && config.target.remote.checkBucket)
        #expect(throws: MigrationError.self) {
            try MigrationConfig.parse("dumper:\n  worker:\n    workMode: milvus1x\ntarget:\n  remote:\n    partSizeMB: 4\n", file: "m.yaml")
        }
    }
}
