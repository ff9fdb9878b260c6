import Crypto
import Foundation
import MilvusMigration

/// The HTTP job API, free of any HTTP library: a request in, a reply out (`JobServer` adapts it
/// to Hummingbird). The reference tool's endpoints and shapes under `/api/v1`
/// (`{"code","msg","data","requestId"}`, `dump_`/`load_`/`start_` job ids, JobInfo), plus
/// `cancel`, `jobs`, `/metrics` (Prometheus, of the jobs run here), a bearer token and 4xx answers for bad requests (the reference answers
/// everything with HTTP 200).
public struct JobAPI: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var query: [String: String]
        /// Header names in lower case.
        public var headers: [String: String]
        public var body: [UInt8]

        public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    public struct Reply: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]
    }

    /// The body of dump, load and start (the reference's fields, and `config`).
    struct JobRequest: Decodable {
        var collectionNames: [String]?
        var requestId: String?
        var async: Bool?
        /// A migration.yaml for this job (default: the server's).
        var config: String?
    }

    struct JobIdRequest: Decodable {
        var jobId: String?
        var requestId: String?
    }

    /// The largest request body read (a job request is a few hundred bytes).
    static let maxBodyBytes = 64 << 10

    public let registry: JobRegistry
    /// Required as `Authorization: Bearer <token>` on every endpoint but `/api/v1/healthy` and
    /// the page (which holds no data; its calls carry the token).
    let token: String?

    public init(registry: JobRegistry, token: String?) {
        self.registry = registry
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
    }

    public func handle(_ request: Request) async -> Reply {
        let requestId = request.headers["requestid"]
        switch (request.method, request.path) {
        case ("GET", "/"), ("GET", "/index.html"):
            return Reply(status: 200, contentType: "text/html; charset=utf-8", body: Array(StatusPage.html.utf8))
        case ("GET", "/api/v1/healthy"):
            return envelope(200, data: "ok", requestId: requestId)
        default:
            break
        }
        guard request.path.hasPrefix("/api/v1/") || request.path == "/metrics" else {
            return failure(APIError(404, "no such endpoint: \(request.method) \(request.path)"), requestId)
        }
        if let token, !authorized(request.headers["authorization"], token: token) {
            return failure(APIError(401, "missing or wrong bearer token: send the header 'Authorization: Bearer <token>'"), requestId)
        }
        if request.path == "/metrics" {
            // The jobs' Prometheus metrics (a scraper sends the token as its bearer token).
            guard request.method == "GET" else { return failure(APIError(405, "/metrics takes GET"), requestId) }
            return Reply(status: 200, contentType: MetricsServer.contentType, body: MetricsServer.exposition())
        }
        do {
            switch (request.method, request.path) {
            case ("POST", "/api/v1/dump"): return try await submit(.dump, request, requestId)
            case ("POST", "/api/v1/load"): return try await submit(.load, request, requestId)
            case ("POST", "/api/v1/start"): return try await submit(.start, request, requestId)
            case ("GET", "/api/v1/get_job"):
                guard let id = request.query["jobId"], !id.isEmpty else { throw APIError(400, "get_job needs the query parameter jobId") }
                return envelope(200, data: try await registry.info(id), requestId: requestId)
            case ("GET", "/api/v1/jobs"):
                return envelope(200, data: await registry.list(), requestId: requestId)
            case ("POST", "/api/v1/cancel"):
                let body = try decode(JobIdRequest.self, request.body)
                guard let id = body.jobId ?? request.query["jobId"], !id.isEmpty else { throw APIError(400, "cancel needs {\"jobId\": \"…\"}") }
                return envelope(200, data: try await registry.cancel(id), requestId: requestId ?? body.requestId)
            case (_, "/api/v1/dump"), (_, "/api/v1/load"), (_, "/api/v1/start"), (_, "/api/v1/cancel"):
                throw APIError(405, "\(request.path) takes POST")
            case (_, "/api/v1/get_job"), (_, "/api/v1/jobs"):
                throw APIError(405, "\(request.path) takes GET")
            default:
                throw APIError(404, "no such endpoint: \(request.method) \(request.path)")
            }
        } catch let error as APIError {
            return failure(error, requestId)
        } catch {
            return failure(APIError(500, "\(error)"), requestId)
        }
    }

    /// dump/load/start: accepted at once with `async: true`; otherwise the answer waits for the
    /// job's end (the reference's default) and carries its outcome.
    private func submit(_ kind: JobKind, _ request: Request, _ headerId: String?) async throws -> Reply {
        let body = try decode(JobRequest.self, request.body)
        let requestId = headerId ?? body.requestId
        let names = (body.collectionNames ?? []).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let record = try await registry.submit(kind, configPath: body.config, collections: names, requestId: requestId)
        let data = ["jobId": record.jobId]
        if body.async == true { return envelope(200, data: data, requestId: requestId) }
        await registry.waitUntilFinished(record.jobId)
        let info = try await registry.info(record.jobId)
        if info.jobStatus == .success { return envelope(200, data: data, requestId: requestId) }
        // The job ran and failed: not a bad request, so HTTP 200 with code 500, as the reference does.
        return envelope(200, code: 500, msg: info.msg, data: data, requestId: requestId)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws -> T {
        if body.count > Self.maxBodyBytes { throw APIError(413, "the request body is larger than \(Self.maxBodyBytes) bytes") }
        let data = body.isEmpty || body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) ? Data("{}".utf8) : Data(body)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            throw APIError(400, "the request body's field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch {
            throw APIError(400, "the request body is not a JSON object of this endpoint")
        }
    }

    /// Compares digests, so the time taken says nothing about how much of the token matched.
    private func authorized(_ header: String?, token: String) -> Bool {
        guard let header, header.lowercased().hasPrefix("bearer ") else { return false }
        let given = header.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
        return SHA256.hash(data: Data(given.utf8)) == SHA256.hash(data: Data(token.utf8))
    }

    private func failure(_ error: APIError, _ requestId: String?) -> Reply {
        envelope(error.status, code: error.status, msg: error.message, data: Optional<String>.none, requestId: requestId)
    }

    private struct Envelope<D: Encodable>: Encodable {
        var code: Int
        var msg: String
        var data: D
        var requestId: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(code, forKey: .code)
            try c.encode(msg, forKey: .msg)
            try c.encode(data, forKey: .data)
            try c.encode(requestId ?? "", forKey: .requestId)
        }

        enum CodingKeys: String, CodingKey { case code, msg, data, requestId }
    }

    private func envelope<D: Encodable>(_ status: Int, code: Int = 0, msg: String = "success", data: D, requestId: String?) -> Reply {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(Envelope(code: code, msg: msg, data: data, requestId: requestId))) ?? Data("{\"code\":500,\"msg\":\"encoding failed\"}".utf8)
        return Reply(status: status, contentType: "application/json", body: Array(body))
    }
}
