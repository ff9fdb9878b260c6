import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Temporary credentials fetched over the network and cached until five minutes before they
/// expire (`useIAM: true` with web identity or container credentials).
public actor S3CredentialRefresher {
    public typealias Fetch = @Sendable () async throws -> (S3Credentials, Date?)
    /// For messages: `web identity (AWS_ROLE_ARN arn:...)`.
    public nonisolated let origin: String
    private let fetch: Fetch
    private var cached: (S3Credentials, Date?)?
    /// The fetch under way: concurrent callers wait for it instead of fetching again.
    private var inFlight: Task<(S3Credentials, Date?), Error>?
    /// How many times credentials were fetched (tests).
    public private(set) var fetches = 0

    public init(origin: String, fetch: @escaping Fetch) {
        self.origin = origin
        self.fetch = fetch
    }

    public func current() async throws -> S3Credentials {
        if let (credentials, expiry) = cached, expiry.map({ $0.timeIntervalSinceNow > 300 }) ?? true {
            return credentials
        }
        if let inFlight { return try await inFlight.value.0 }
        let task = Task { try await fetch() }
        inFlight = task
        do {
            let fresh = try await task.value
            fetches += 1
            cached = fresh
            inFlight = nil
            return fresh.0
        } catch {
            inFlight = nil
            throw error
        }
    }

    /// The server refused `accessKey` as expired or unknown (it expired earlier than announced,
    /// or the clocks differ): forget it, so the next `current()` fetches new credentials.
    public func invalidate(accessKey: String) {
        if cached?.0.accessKey == accessKey { cached = nil }
    }
}

/// The networked links of the `useIAM` chain: web identity (EKS IRSA: a token file exchanged at
/// STS) and container credentials (ECS task roles, EKS Pod Identity). Both run only when their
/// standard environment variables are set. Instance metadata (IMDS) is not queried.
enum S3CredentialChain {
    static func refresher(environment env: [String: String], region: String, configKey: String, file: String) throws -> S3CredentialRefresher? {
        if let tokenFile = env["AWS_WEB_IDENTITY_TOKEN_FILE"], !tokenFile.isEmpty {
            guard let role = env["AWS_ROLE_ARN"], !role.isEmpty else {
                throw MigrationError.config(file: file, key: "\(configKey).useIAM", message: "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")
            }
            let session = env["AWS_ROLE_SESSION_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? "milvus-migration-\(Int(Date().timeIntervalSince1970))"
            let stsRegion = env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? region
            let endpoint = env["AWS_ENDPOINT_URL_STS"] ?? "https://sts.\(stsRegion).amazonaws.com"
            let origin = "web identity (role \(role))"
            return S3CredentialRefresher(origin: origin) {
                try await webIdentity(tokenFile: tokenFile, role: role, session: session, endpoint: endpoint, origin: origin)
            }
        }
        let full = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].flatMap { $0.isEmpty ? nil : $0 }
        let relative = env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"].flatMap { $0.isEmpty ? nil : $0 }
        if let url = full ?? relative.map({ "http://169.254.170.2\($0)" }) {
            let token = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
            let tokenFile = env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
            let origin = "container credentials (\(url))"
            return S3CredentialRefresher(origin: origin) {
                try await container(url: url, token: token, tokenFile: tokenFile, origin: origin)
            }
        }
        return nil
    }

    /// STS AssumeRoleWithWebIdentity (an unsigned form POST).
    static func webIdentity(tokenFile: String, role: String, session: String, endpoint: String, origin: String) async throws -> (S3Credentials, Date?) {
        guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
            throw MigrationError.storage(location: endpoint, operation: "AssumeRoleWithWebIdentity", message: "cannot read the token file \(tokenFile) (AWS_WEB_IDENTITY_TOKEN_FILE)")
        }
        let form = [("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", role),
                    ("RoleSessionName", session), ("WebIdentityToken", token)]
            .map { "\($0.0)=\(SigV4.uriEncode($0.1, keepSlash: false))" }.joined(separator: "&")
        var request = HTTPClientRequest(url: endpoint.hasSuffix("/") ? endpoint : endpoint + "/")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: form))
        let (status, body) = try await fetch(request, operation: "AssumeRoleWithWebIdentity", location: endpoint)
        let root = S3XMLNode.parse(body)
        guard status == 200, let credentials = root?.child("AssumeRoleWithWebIdentityResult")?.child("Credentials"),
              let ak = credentials.value("AccessKeyId"), let sk = credentials.value("SecretAccessKey") else {
            let error = root?.child("Error")
            throw MigrationError.storage(location: endpoint, operation: "AssumeRoleWithWebIdentity", message:
                "STS refused role \(role): HTTP \(status)\(error.map { " [\($0.value("Code") ?? ""): \($0.value("Message") ?? "")]" } ?? "")")
        }
        return (S3Credentials(accessKey: ak, secretKey: Secret(sk), sessionToken: credentials.value("SessionToken").map(Secret.init), origin: origin),
                credentials.value("Expiration").flatMap(parseDate))
    }

    /// The ECS/EKS container credentials endpoint: JSON with AccessKeyId, SecretAccessKey, Token, Expiration.
    static func container(url: String, token: String?, tokenFile: String?, origin: String) async throws -> (S3Credentials, Date?) {
        var request = HTTPClientRequest(url: url)
        var authorization = token
        if let tokenFile, let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) {
            authorization = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let authorization { request.headers.add(name: "authorization", value: authorization) }
        let (status, body) = try await fetch(request, operation: "GetContainerCredentials", location: url)
        struct Answer: Decodable {
            var AccessKeyId: String
            var SecretAccessKey: String
            var Token: String?
            var Expiration: String?
        }
        guard status == 200, let answer = try? JSONDecoder().decode(Answer.self, from: Data(body)) else {
            throw MigrationError.storage(location: url, operation: "GetContainerCredentials", message: "HTTP \(status): no credentials in the answer")
        }
        return (S3Credentials(accessKey: answer.AccessKeyId, secretKey: Secret(answer.SecretAccessKey), sessionToken: answer.Token.map(Secret.init), origin: origin),
                answer.Expiration.flatMap(parseDate))
    }

    static func fetch(_ request: HTTPClientRequest, operation: String, location: String) async throws -> (Int, [UInt8]) {
        var lastError = ""
        for attempt in 1...3 {
            do {
                let response = try await s3HTTPClient.execute(request, timeout: .seconds(10))
                let body = Array(buffer: try await response.body.collect(upTo: 1 << 20))
                let status = Int(response.status.code)
                if status < 500 { return (status, body) }
                lastError = "HTTP \(status)"
            } catch {
                lastError = S3Client.describe(error)
            }
            try await Task.sleep(nanoseconds: UInt64(attempt) * 200_000_000)
        }
        throw MigrationError.storage(location: location, operation: operation, message: "no credentials after 3 attempts: \(lastError)")
    }

    static func parseDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
