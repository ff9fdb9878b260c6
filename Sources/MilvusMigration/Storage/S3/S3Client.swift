import AsyncHTTPClient
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOHTTP1

/// One process-wide HTTP client: it lives as long as the process (a global is never
/// deinitialized), so no caller has to shut it down. Redirects are not followed, so that a
/// wrong region shows up as the server's own answer.
let s3HTTPClient: HTTPClient = {
    #if canImport(Glibc)
    // Part buffers (MiBs each) are allocated and freed all the time. glibc raises its mmap
    // threshold after the first such free and then keeps freed parts in its heaps: measured
    // +35 MB of peak RSS in scripts/bench-s3.sh. A fixed threshold maps them and returns them
    // to the system on free.
    // (mallopt is not in the Glibc module; M_MMAP_THRESHOLD is -3 in malloc.h.)
    if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        _ = unsafeBitCast(symbol, to: Mallopt.self)(-3, 1 << 20)
    }
    #endif
    var configuration = HTTPClient.Configuration(
        redirectConfiguration: .disallow,
        timeout: .init(connect: .seconds(10)),
        decompression: .disabled)
    configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)
    // A refused connection fails at once; S3Client's own retries (with backoff) take over.
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.httpVersion = .http1Only
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

/// An S3 (or S3-compatible) client for one bucket: SigV4-signed requests over async-http-client,
/// retried with exponential backoff and full jitter on 5xx, 429/SlowDown, timeouts and connection
/// errors. Failures become `MigrationError.storage` naming the bucket and key, never the secret.
public struct S3Client: Sendable {
    public let settings: S3Settings
    let logger = Logger(label: "milvus-migration.s3")

    public init(settings: S3Settings) {
        self.settings = settings
    }

    // MARK: - Requests

    public enum Body: Sendable {
        case none
        /// Kept until the request succeeds, so it can be resent.
        case bytes(ByteBuffer)
        /// Sent once (no retry), with UNSIGNED-PAYLOAD.
        case stream(length: Int64, makeStream: @Sendable () -> AsyncThrowingStream<ByteBuffer, Error>)

        var length: Int64 {
            switch self {
            case .none: return 0
            case .bytes(let b): return Int64(b.readableBytes)
            case .stream(let length, _): return length
            }
        }
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: [UInt8]
    }

    /// Sub-resources sent as a bare name (`?uploads`); signed as `uploads=`.
    static let flags: Set<String> = ["uploads", "delete"]

    /// `s3://bucket/key` for messages.
    public func display(_ key: String?) -> String {
        "s3://\(settings.bucket)" + (key.map { "/\($0)" } ?? "")
    }

    /// Builds and signs one request (fresh date per attempt).
    func prepare(method: HTTPMethod, key: String?, query: [(String, String)], headers extra: [(String, String)],
                 body: Body, payloadHash: String?, credentials: S3Credentials) -> HTTPClientRequest {
        let (host, path) = settings.location(of: key)
        let queryText = query
            .map { S3Client.flags.contains($0.0) && $0.1.isEmpty ? $0.0 : "\(SigV4.uriEncode($0.0, keepSlash: false))=\(SigV4.uriEncode($0.1, keepSlash: false))" }
            .joined(separator: "&")
        var request = HTTPClientRequest(url: "\(settings.scheme)://\(host)\(path)\(queryText.isEmpty ? "" : "?\(queryText)")")
        request.method = method
        var signedHeaders: [(String, String)] = [("host", host)] + extra
        if !credentials.isAnonymous {
            let timestamp = SigV4.timestamp(Date())
            let hash = payloadHash ?? SigV4.emptyPayloadHash
            signedHeaders.append(("x-amz-date", timestamp))
            signedHeaders.append(("x-amz-content-sha256", hash))
            if let token = credentials.sessionToken { signedHeaders.append(("x-amz-security-token", token.revealed)) }
            let signed = SigV4(region: settings.region).sign(
                .init(method: method.rawValue, canonicalURI: path, query: query, headers: signedHeaders, payloadHash: hash),
                accessKey: credentials.accessKey, secretKey: credentials.secretKey.revealed, timestamp: timestamp)
            signedHeaders.append(("authorization", signed.authorization))
        }
        for (name, value) in signedHeaders { request.headers.add(name: name, value: value) }
        switch body {
        case .none:
            if method == .PUT || method == .POST { request.body = .bytes(ByteBuffer()) }
        case .bytes(let buffer):
            request.body = .bytes(buffer)
        case .stream(let length, let makeStream):
            request.body = .stream(makeStream(), length: .known(length))
        }
        return request
    }

    /// Sends a request with retries. `accept` lists statuses handed back to the caller (the rest
    /// become errors). `sink`, when given, receives the body of an accepted response instead of
    /// it being collected (at most `limit` bytes are collected otherwise).
    @discardableResult
    func send(_ operation: String, method: HTTPMethod, key: String?, query: [(String, String)] = [],
              headers: [(String, String)] = [], body: Body = .none, accept: Set<Int> = [200],
              limit: Int = 64 << 20, expectedBytes: Int64 = 0,
              precheck: ((Int, HTTPHeaders) throws -> Void)? = nil,
              sink: ((HTTPClientResponse.Body) async throws -> Void)? = nil) async throws -> Response {
        var payloadHash: String?
        switch body {
        case .none: payloadHash = nil
        case .bytes(let buffer):
            payloadHash = settings.signPayload ? buffer.withUnsafeReadableBytes { SigV4.sha256Hex($0) } : SigV4.unsignedPayload
        case .stream: payloadHash = SigV4.unsignedPayload
        }
        let attempts: Int
        if case .stream = body { attempts = 1 } else { attempts = max(1, settings.maxAttempts) }
        // Time for the request itself plus one second per MiB sent or expected back.
        let timeout = settings.requestTimeout + Double(body.length + expectedBytes) / Double(1 << 20)
        var attempt = 0
        var refreshedCredentials = false
        while true {
            attempt += 1
            try Task.checkCancellation()
            let credentials = try await currentCredentials()
            let request = prepare(method: method, key: key, query: query, headers: headers, body: body, payloadHash: payloadHash,
                                  credentials: credentials)
            var retryReason: String
            // The same, as one of a few fixed words for the `retries_total` metric.
            var retryCause: String
            do {
                let response = try await s3HTTPClient.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
                let status = Int(response.status.code)
                if accept.contains(status) {
                    // An answer that cannot be right (e.g. a ranged read answered with the whole
                    // object) fails before its body is read: not retried, never copied.
                    try precheck?(status, response.headers)
                    if let sink {
                        try await sink(response.body)
                        return Response(status: status, headers: response.headers, body: [])
                    }
                    let bytes: [UInt8]
                    do {
                        bytes = method == .HEAD ? [] : Array(buffer: try await response.body.collect(upTo: limit))
                    } catch is NIOTooManyBytesError {
                        throw MigrationError.storage(location: display(key), operation: operation, message:
                            "the answer from \(settings.endpointDescription) is larger than \(limit) bytes, the most this request accepts")
                    }
                    // CompleteMultipartUpload may answer 200 with an error inside.
                    if method == .POST, status == 200, bytes.count < 4096, let error = S3ErrorBody(bytes), error.isEmbeddedError {
                        if error.isRetryable && attempt < attempts {
                            retryReason = "\(error.code ?? "error") in a 200 answer"
                            try await backoff(operation, key: key, attempt: attempt, reason: retryReason, cause: S3Client.retryCause(status: status, code: error.code))
                            continue
                        }
                        throw failure(operation, key: key, status: status, headers: response.headers, body: bytes, credentials: credentials)
                    }
                    return Response(status: status, headers: response.headers, body: bytes)
                }
                let bytes = method == .HEAD ? [] : Array(buffer: (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer())
                let error = S3ErrorBody(bytes)
                // Temporary credentials refused as expired or unknown: fetch new ones and resend
                // at once (once per request; the attempt is not counted).
                if let refresher = settings.refresher, !refreshedCredentials, [400, 403].contains(status),
                   S3Client.expiredCredentialCodes.contains(error?.code ?? "") {
                    refreshedCredentials = true
                    MigrationMetrics.retry(.s3, cause: "credentials_expired")
                    await refresher.invalidate(accessKey: credentials.accessKey)
                    logger.notice("\(operation) \(display(key)): \(error?.code ?? "") for the temporary credentials of \(refresher.origin); fetching new ones")
                    attempt -= 1
                    continue
                }
                let retryable = [500, 502, 503, 504, 429].contains(status) || (error?.isRetryable ?? false)
                guard retryable && attempt < attempts else {
                    throw failure(operation, key: key, status: status, headers: response.headers, body: bytes, credentials: credentials)
                }
                retryReason = "HTTP \(status)\(error?.code.map { " \($0)" } ?? "")"
                retryCause = S3Client.retryCause(status: status, code: error?.code)
            } catch let error as MigrationError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                guard attempt < attempts else {
                    throw MigrationError.storage(location: display(key), operation: operation, message:
                        "no answer from \(settings.endpointDescription) after \(attempt) attempt\(attempt == 1 ? "" : "s"): \(S3Client.describe(error))")
                }
                retryReason = S3Client.describe(error)
                retryCause = S3Client.isTimeout(error) ? "timeout" : "connection"
            }
            try await backoff(operation, key: key, attempt: attempt, reason: retryReason, cause: retryCause)
        }
    }

    /// Error codes meaning "these (temporary) credentials are no longer valid".
    static let expiredCredentialCodes: Set<String> = ["ExpiredToken", "InvalidToken", "InvalidAccessKeyId", "TokenRefreshRequired", "InvalidClientTokenId"]

    /// The keys to sign with: fixed ones, or the refresher's current temporary ones.
    func currentCredentials() async throws -> S3Credentials {
        guard let refresher = settings.refresher else { return settings.credentials }
        return try await refresher.current()
    }

    func backoff(_ operation: String, key: String?, attempt: Int, reason: String, cause: String) async throws {
        MigrationMetrics.retry(.s3, cause: cause)
        let ceiling = min(settings.backoffCap, settings.backoffBase * pow(2, Double(attempt - 1)))
        let delay = Double.random(in: 0...ceiling)
        logger.notice("\(operation) \(display(key)): \(reason); retry \(attempt) of \(settings.maxAttempts - 1) in \(String(format: "%.2f", delay)) s")
        try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
    }

    /// The `retries_total` cause of a retried answer: `throttled` (429, SlowDown),
    /// `server_error` (5xx), else the S3 error code's kind (`timeout`, `clock_skew`, `error_code`).
    static func retryCause(status: Int, code: String?) -> String {
        switch code {
        case "SlowDown": return "throttled"
        case "RequestTimeout": return "timeout"
        case "RequestTimeTooSkewed": return "clock_skew"
        case "InternalError", "ServiceUnavailable": return "server_error"
        default:
            if status == 429 { return "throttled" }
            if status >= 500 { return "server_error" }
            return "error_code"
        }
    }

    /// Whether a request without an answer ran out of time (rather than losing its connection).
    static func isTimeout(_ error: Error) -> Bool {
        guard let e = error as? HTTPClientError else { return false }
        return [.connectTimeout, .readTimeout, .deadlineExceeded, .writeTimeout].contains(e)
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? HTTPClientError {
            switch e {
            case .connectTimeout: return "connect timed out"
            case .readTimeout: return "read timed out"
            case .deadlineExceeded: return "request timed out"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: return "\(e)"
            }
        }
        return "\(error)"
    }

    /// Turns an error answer into a message that says what to fix.
    func failure(_ operation: String, key: String?, status: Int, headers: HTTPHeaders, body: [UInt8],
                 credentials used: S3Credentials? = nil) -> MigrationError {
        let credentials = used ?? settings.credentials
        let error = S3ErrorBody(body)
        let code = error?.code
        let base = settings.configKey
        let region = error?.region ?? headers.first(name: "x-amz-bucket-region")
        let missingBucket = "bucket '\(settings.bucket)' does not exist at \(settings.endpointDescription) (check \(base).bucket, or set \(base).createBucket: true to create it)"
        var message: String
        switch (status, code) {
        case (_, "NoSuchBucket"):
            message = missingBucket
        case (404, nil) where key == nil:
            message = missingBucket
        case (_, "SignatureDoesNotMatch"):
            message = "the server rejected the request signature: the secret key (\(base).sk) does not match the access key '\(credentials.accessKey)'"
                + (credentials.origin.hasPrefix(base) ? "" : " from \(credentials.origin)")
        case (_, "InvalidAccessKeyId"):
            message = "the access key '\(credentials.accessKey)' is not known to the server (check \(base).ak)"
        case (_, "InvalidToken"), (_, "ExpiredToken"):
            message = "the session token of \(credentials.origin) is invalid or expired"
        case (_, "AuthorizationHeaderMalformed"), (301, _), (_, "PermanentRedirect"), (_, "IllegalLocationConstraintException"):
            if let region, region != settings.region {
                message = "wrong region: the bucket is in '\(region)', not '\(settings.region)' (set \(base).region: \(region))"
            } else if let endpoint = error?.endpoint {
                message = "the bucket must be addressed through \(endpoint) (check \(base).region and \(base).endpoint)"
            } else {
                message = "the request was refused as sent to the wrong region or endpoint (check \(base).region, now '\(settings.region)')"
            }
        case (_, "AccessDenied"), (403, nil):
            message = credentials.isAnonymous
                ? "access denied to anonymous requests (set \(base).ak and \(base).sk)"
                : "access denied for \(credentials) (wrong keys, or no permission for this bucket)"
        case (_, "NoSuchKey"), (404, _):
            message = "no such object"
        case (_, "NoSuchUpload"):
            message = "the multipart upload no longer exists (aborted or completed elsewhere)"
        default:
            message = "HTTP \(status)"
        }
        if let code { message += " [\(code)\(error?.message.map { ": \($0)" } ?? "")]" }
        return .storage(location: display(key), operation: operation, message: message, code: code)
    }

    // MARK: - Bucket operations

    /// true when the bucket exists and the keys may use it; false on 404.
    public func headBucket() async throws -> Bool {
        let response = try await send("HeadBucket", method: .HEAD, key: nil, accept: [200, 404])
        return response.status == 200
    }

    public func createBucket() async throws {
        var body = Body.none
        if settings.provider == .aws && settings.region != "us-east-1" {
            let xml = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(XMLText(settings.region))</LocationConstraint></CreateBucketConfiguration>"
            body = .bytes(ByteBuffer(string: xml))
        }
        let response = try await send("CreateBucket", method: .PUT, key: nil, body: body, accept: [200, 409])
        if response.status == 409 {
            let error = S3ErrorBody(response.body)
            if error?.code == "BucketAlreadyOwnedByYou" { return }
            throw failure("CreateBucket", key: nil, status: 409, headers: response.headers, body: response.body)
        }
    }

    /// `checkBucket` / `createBucket`: fails clearly when the bucket is missing.
    public func ensureBucket(check: Bool, create: Bool) async throws {
        guard check || create else { return }
        if try await headBucket() { return }
        guard create else {
            throw MigrationError.storage(location: display(nil), operation: "HeadBucket", message:
                "bucket '\(settings.bucket)' does not exist at \(settings.endpointDescription) (check \(settings.configKey).bucket, or set \(settings.configKey).createBucket: true to create it)")
        }
        try await createBucket()
        logger.notice("created bucket \(display(nil))")
    }

    // MARK: - Objects

    public struct ObjectInfo: Sendable, Equatable {
        public var key: String
        public var size: Int64
        public var etag: String?
    }

    /// Uploads bytes in one PUT (signed payload over plain HTTP; retried).
    public func putObject(_ key: String, _ bytes: ByteBuffer, contentType: String = "application/octet-stream") async throws {
        try await send("PutObject", method: .PUT, key: key, headers: [("content-type", contentType)], body: .bytes(bytes))
    }

    public func putObject(_ key: String, _ bytes: [UInt8], contentType: String = "application/octet-stream") async throws {
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        try await putObject(key, buffer, contentType: contentType)
    }

    /// Uploads a stream of known length in one PUT without holding it in memory. The stream
    /// cannot be replayed, so this request is not retried; it is sent with UNSIGNED-PAYLOAD.
    public func putObject(_ key: String, length: Int64, stream: @escaping @Sendable () -> AsyncThrowingStream<ByteBuffer, Error>) async throws {
        try await send("PutObject", method: .PUT, key: key, headers: [("content-type", "application/octet-stream")],
                       body: .stream(length: length, makeStream: stream))
    }

    /// Size and ETag, or nil when the object does not exist.
    public func headObject(_ key: String) async throws -> ObjectInfo? {
        let response = try await send("HeadObject", method: .HEAD, key: key, accept: [200, 404])
        guard response.status == 200 else { return nil }
        let size = response.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0
        return ObjectInfo(key: key, size: size, etag: response.headers.first(name: "etag"))
    }

    /// The object's bytes (or the `range`), or nil when it does not exist. A ranged answer is
    /// checked against the request (`checkRange`): exactly the bytes asked for (fewer only where
    /// the object ends), never more, or a `.storage` error naming the object.
    public func getObject(_ key: String, range: Range<Int64>? = nil, limit: Int = 256 << 20) async throws -> [UInt8]? {
        var headers: [(String, String)] = []
        if let range {
            guard !range.isEmpty else { return [] }
            headers.append(("range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)"))
        }
        // A ranged read never collects more than it asked for (a server that ignores Range could
        // otherwise send a whole object of any size).
        var rangeCheck: ((Int, HTTPHeaders) throws -> Void)?
        if let range {
            rangeCheck = { status, headers in
                _ = try self.checkRange(key, status: status, headers: headers, offset: range.lowerBound, count: range.upperBound - range.lowerBound)
            }
        }
        let collectLimit = range.map { Int(clamping: min(Int64(limit), $0.upperBound - $0.lowerBound)) } ?? limit
        let response = try await send("GetObject", method: .GET, key: key, headers: headers, accept: [200, 206, 404, 416], limit: collectLimit,
                                      expectedBytes: range.map { $0.upperBound - $0.lowerBound } ?? Int64(min(limit, 64 << 20)),
                                      precheck: rangeCheck)
        switch response.status {
        case 404: return nil
        case 416: return []
        default:
            if let range {
                let expected = try checkRange(key, status: response.status, headers: response.headers, offset: range.lowerBound, count: range.upperBound - range.lowerBound)
                guard Int64(response.body.count) == expected else {
                    throw MigrationError.storage(location: display(key), operation: "GetObject", message:
                        "the answer to a read of bytes \(range.lowerBound)-\(range.upperBound - 1) carried \(response.body.count) bytes, \(expected) announced")
                }
            }
            return response.body
        }
    }

    /// Fills `buffer` from `offset` with one ranged GET (retried whole). Returns the bytes the
    /// object had there (fewer than `buffer.count` when it ends first). The answer must be a `206`
    /// whose `Content-Range` starts at `offset` and ends within the buffer (or a `200` that is
    /// provably the whole object and exactly the range, at offset 0); the body is never copied
    /// past the buffer.
    public func getObject(_ key: String, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) async throws -> Int {
        guard buffer.count > 0 else { return 0 }
        let box = FillTarget(buffer, location: display(key))
        let count = Int64(buffer.count)
        let response = try await send("GetObject", method: .GET, key: key,
                                      headers: [("range", "bytes=\(offset)-\(offset + count - 1)")],
                                      accept: [206, 200, 416], expectedBytes: count,
                                      precheck: { status, headers in _ = try self.checkRange(key, status: status, headers: headers, offset: offset, count: count) }) { body in
            box.filled = 0
            for try await chunk in body {
                try box.append(chunk)
            }
        }
        if response.status == 416 { return 0 }
        let expected = try checkRange(key, status: response.status, headers: response.headers, offset: offset, count: count)
        guard Int64(box.filled) == expected else {
            throw MigrationError.storage(location: display(key), operation: "GetObject", message:
                "the answer to a read of bytes \(offset)-\(offset + count - 1) carried \(box.filled) bytes, \(expected) announced (connection cut short?)")
        }
        return box.filled
    }

    /// Checks the status and headers of an answer to a ranged GET of `count` bytes at `offset`
    /// before its body is read, and returns how many body bytes it must carry. Accepted: `206`
    /// with `Content-Range: bytes offset-end/total`, `end` within the request (the object may end
    /// first) and a matching `Content-Length`; `200` only when it is the whole object and exactly
    /// the range (offset 0, the object no longer than the request). Anything else (a server or
    /// proxy that ignores `Range`) is a `.storage` error naming the object; 416 and errors pass.
    func checkRange(_ key: String, status: Int, headers: HTTPHeaders, offset: Int64, count: Int64) throws -> Int64 {
        guard status == 200 || status == 206 else { return 0 }
        let asked = "bytes \(offset)-\(offset + count - 1)"
        func refuse(_ why: String) -> MigrationError {
            .storage(location: display(key), operation: "GetObject", message: "\(why) to a request for \(asked); ranged reads are required (a proxy in between that ignores Range?)")
        }
        let length = headers.first(name: "content-length").flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
        if status == 200 {
            guard let length, length >= 0 else { throw refuse("HTTP 200 without a Content-Length") }
            guard offset == 0, length <= count else {
                throw refuse("the server ignored the byte range: HTTP 200 with the whole object (\(length) bytes)")
            }
            return length
        }
        guard let text = headers.first(name: "content-range"), let parsed = S3Client.parseContentRange(text) else {
            throw refuse("HTTP 206 without a readable Content-Range (\(headers.first(name: "content-range") ?? "none"))")
        }
        guard parsed.start == offset, parsed.end >= parsed.start, parsed.end <= offset + count - 1,
              parsed.total.map({ parsed.end < $0 && (parsed.end == offset + count - 1 || parsed.end == $0 - 1) }) ?? (parsed.end == offset + count - 1) else {
            throw refuse("HTTP 206 with Content-Range '\(text)'")
        }
        let expected = parsed.end - parsed.start + 1
        if let length, length != expected {
            throw refuse("HTTP 206 with Content-Range '\(text)' but Content-Length \(length)")
        }
        return expected
    }

    /// `bytes start-end/total` (total may be `*`).
    static func parseContentRange(_ text: String) -> (start: Int64, end: Int64, total: Int64?)? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes ") else { return nil }
        let rest = trimmed.dropFirst(6).trimmingCharacters(in: .whitespaces)
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let bounds = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let start = Int64(bounds[0]), let end = Int64(bounds[1]), start >= 0 else { return nil }
        if parts[1] == "*" { return (start, end, nil) }
        guard let total = Int64(parts[1]), total >= 0 else { return nil }
        return (start, end, total)
    }

    /// A buffer a response body is copied into, with its fill level (one request at a time).
    final class FillTarget: @unchecked Sendable {
        let buffer: UnsafeMutableRawBufferPointer
        let location: String
        var filled = 0
        init(_ buffer: UnsafeMutableRawBufferPointer, location: String) {
            self.buffer = buffer
            self.location = location
        }
        func append(_ chunk: ByteBuffer) throws {
            let n = chunk.readableBytes
            guard filled + n <= buffer.count else {
                throw MigrationError.storage(location: location, operation: "GetObject", message: "the server sent more bytes than the range asked for")
            }
            chunk.withUnsafeReadableBytes { src in
                (buffer.baseAddress! + filled).copyMemory(from: src.baseAddress!, byteCount: n)
            }
            filled += n
        }
    }

    public struct ListPage: Sendable {
        public var objects: [ObjectInfo]
        public var prefixes: [String]
        public var nextToken: String?
    }

    /// One ListObjectsV2 page.
    public func listObjectsPage(prefix: String, delimiter: String? = nil, maxKeys: Int = 1000, token: String? = nil) async throws -> ListPage {
        var query: [(String, String)] = [("list-type", "2"), ("prefix", prefix), ("max-keys", String(maxKeys))]
        if let delimiter { query.append(("delimiter", delimiter)) }
        if let token { query.append(("continuation-token", token)) }
        let response = try await send("ListObjectsV2", method: .GET, key: nil, query: query)
        guard let root = S3XMLNode.parse(response.body), root.name == "ListBucketResult" else {
            throw MigrationError.storage(location: display(prefix), operation: "ListObjectsV2", message: "unreadable answer from \(settings.endpointDescription)")
        }
        let objects = root.all("Contents").map {
            ObjectInfo(key: $0.value("Key") ?? "", size: Int64($0.value("Size") ?? "") ?? 0, etag: $0.value("ETag"))
        }
        let prefixes = root.all("CommonPrefixes").compactMap { $0.value("Prefix") }
        let truncated = root.value("IsTruncated") == "true"
        return ListPage(objects: objects, prefixes: prefixes, nextToken: truncated ? root.value("NextContinuationToken") : nil)
    }

    /// Every object (and, with a delimiter, every common prefix) under `prefix`, all pages.
    public func listObjects(prefix: String, delimiter: String? = nil, pageSize: Int = 1000) async throws -> ListPage {
        var all = ListPage(objects: [], prefixes: [], nextToken: nil)
        var token: String?
        repeat {
            let page = try await listObjectsPage(prefix: prefix, delimiter: delimiter, maxKeys: pageSize, token: token)
            all.objects += page.objects
            all.prefixes += page.prefixes
            token = page.nextToken
        } while token != nil
        return all
    }

    /// Deletes keys, 1000 per request. Returns the keys the server refused to delete, with why.
    @discardableResult
    public func deleteObjects(_ keys: [String]) async throws -> [(key: String, message: String)] {
        var refused: [(String, String)] = []
        var start = 0
        while start < keys.count {
            let batch = keys[start..<min(keys.count, start + 1000)]
            start += batch.count
            var xml = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
            for key in batch { xml += "<Object><Key>\(XMLText(key))</Key></Object>" }
            xml += "</Delete>"
            let bytes = Array(xml.utf8)
            let md5 = Data(Insecure.MD5.hash(data: bytes)).base64EncodedString()
            let response = try await send("DeleteObjects", method: .POST, key: nil, query: [("delete", "")],
                                          headers: [("content-md5", md5), ("content-type", "application/xml")],
                                          body: .bytes(ByteBuffer(bytes: bytes)))
            if let root = S3XMLNode.parse(response.body) {
                for e in root.all("Error") {
                    refused.append((e.value("Key") ?? "", "\(e.value("Code") ?? ""): \(e.value("Message") ?? "")"))
                }
            }
        }
        return refused
    }

    // MARK: - Multipart

    public func createMultipartUpload(_ key: String) async throws -> String {
        let response = try await send("CreateMultipartUpload", method: .POST, key: key, query: [("uploads", "")],
                                      headers: [("content-type", "application/octet-stream")])
        guard let id = S3XMLNode.parse(response.body)?.value("UploadId"), !id.isEmpty else {
            throw MigrationError.storage(location: display(key), operation: "CreateMultipartUpload", message: "no UploadId in the answer from \(settings.endpointDescription)")
        }
        return id
    }

    /// Uploads one part (retried; the buffer is kept until it succeeds). Returns its ETag.
    public func uploadPart(_ key: String, uploadId: String, partNumber: Int, _ bytes: ByteBuffer) async throws -> String {
        let response = try await send("UploadPart \(partNumber)", method: .PUT, key: key,
                                      query: [("partNumber", String(partNumber)), ("uploadId", uploadId)], body: .bytes(bytes))
        guard let etag = response.headers.first(name: "etag") else {
            throw MigrationError.storage(location: display(key), operation: "UploadPart \(partNumber)", message: "no ETag in the answer from \(settings.endpointDescription)")
        }
        return etag
    }

    public func completeMultipartUpload(_ key: String, uploadId: String, etags: [String]) async throws {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for (i, etag) in etags.enumerated() { xml += "<Part><PartNumber>\(i + 1)</PartNumber><ETag>\(XMLText(etag))</ETag></Part>" }
        xml += "</CompleteMultipartUpload>"
        try await send("CompleteMultipartUpload", method: .POST, key: key, query: [("uploadId", uploadId)],
                       headers: [("content-type", "application/xml")], body: .bytes(ByteBuffer(string: xml)))
    }

    public func abortMultipartUpload(_ key: String, uploadId: String) async throws {
        try await send("AbortMultipartUpload", method: .DELETE, key: key, query: [("uploadId", uploadId)], accept: [200, 204, 404])
    }

    public struct Upload: Sendable, Equatable {
        public var key: String
        public var uploadId: String
    }

    /// Unfinished multipart uploads under `prefix`, all pages.
    public func listMultipartUploads(prefix: String) async throws -> [Upload] {
        var uploads: [Upload] = []
        var keyMarker: String?
        var idMarker: String?
        while true {
            var query: [(String, String)] = [("uploads", ""), ("prefix", prefix)]
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let idMarker { query.append(("upload-id-marker", idMarker)) }
            let response = try await send("ListMultipartUploads", method: .GET, key: nil, query: query)
            guard let root = S3XMLNode.parse(response.body) else { break }
            uploads += root.all("Upload").compactMap { u in
                guard let key = u.value("Key"), let id = u.value("UploadId") else { return nil }
                return Upload(key: key, uploadId: id)
            }
            guard root.value("IsTruncated") == "true", let nextKey = root.value("NextKeyMarker") else { break }
            keyMarker = nextKey
            idMarker = root.value("NextUploadIdMarker")
        }
        // Some servers ignore the prefix parameter.
        return uploads.filter { $0.key.hasPrefix(prefix) }
    }
}

/// The `<Error>` document of a failed request.
struct S3ErrorBody: Sendable {
    var code: String?
    var message: String?
    var region: String?
    var endpoint: String?
    var isEmbeddedError: Bool

    init?(_ bytes: [UInt8]) {
        guard let root = S3XMLNode.parse(bytes), root.name == "Error" else { return nil }
        code = root.value("Code")
        message = root.value("Message")
        region = root.value("Region")
        endpoint = root.value("Endpoint")
        isEmbeddedError = true
    }

    var isRetryable: Bool {
        ["SlowDown", "InternalError", "RequestTimeout", "ServiceUnavailable", "RequestTimeTooSkewed"].contains(code ?? "")
    }
}

/// Escaped XML text.
func XMLText(_ text: String) -> String { S3XMLNode.escape(text) }
