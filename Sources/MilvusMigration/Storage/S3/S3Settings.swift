import Foundation

/// The kind of S3-compatible store (the `cloud` key): it decides the default host, the
/// addressing style and the region rules (`S3Settings.resolve`, in Config/ConfigMapping.swift).
public enum ObjectStorageProvider: String, Sendable, CaseIterable {
    case aws, minio, gcp, ali, tc, azure, az
}

/// Where and how to reach one bucket: the resolved form of the `cloud`, `endpoint`, `region`,
/// `useSSL` keys, the credentials, and the transfer tuning.
public struct S3Settings: Sendable {
    public enum Addressing: String, Sendable {
        /// `https://host/bucket/key`
        case path
        /// `https://bucket.host/key`
        case virtualHost
    }

    public var provider: ObjectStorageProvider
    public var useSSL: Bool
    /// `host` or `host:port`, without scheme.
    public var host: String
    public var region: String
    public var bucket: String
    /// `target.remote` or `source.remote`: the config keys messages point at.
    public var configKey = "remote"
    public var addressing: Addressing
    public var credentials: S3Credentials
    /// Temporary credentials fetched and refreshed (web identity, container); when set, used
    /// instead of `credentials`.
    public var refresher: S3CredentialRefresher?
    /// Multipart part size in bytes (≥ 5 MiB). Files below it go up in one PUT.
    public var partSize = 8 << 20
    /// Parts of one file uploading at once.
    public var partConcurrency = 4
    /// Attempts per request (1 = no retry).
    public var maxAttempts = 6
    /// First backoff step; doubled per attempt, capped, with full jitter.
    public var backoffBase: Double = 0.2
    public var backoffCap: Double = 8
    /// A request with no body fails after this many seconds; uploads and downloads get one
    /// second per MiB (sent, or expected back) on top. Timed-out requests are retried.
    public var requestTimeout: Double = 30
    /// Sign the SHA-256 of each body (true) or send UNSIGNED-PAYLOAD (false). Default: sign over
    /// plain HTTP, where nothing else protects the bytes; TLS protects them otherwise.
    public var signPayload: Bool

    public init(provider: ObjectStorageProvider = .aws, useSSL: Bool, host: String, region: String, bucket: String,
                addressing: Addressing, credentials: S3Credentials) {
        self.provider = provider
        self.useSSL = useSSL
        self.host = host
        self.region = region
        self.bucket = bucket
        self.addressing = addressing
        self.credentials = credentials
        self.signPayload = !useSSL
    }

    public var scheme: String { useSSL ? "https" : "http" }

    /// `http://127.0.0.1:9000` (for messages).
    public var endpointDescription: String { "\(scheme)://\(host)" }

    /// The Host header and the encoded path (canonical URI) of `key` in the bucket
    /// (`key` nil → the bucket itself).
    public func location(of key: String?) -> (host: String, path: String) {
        let encodedKey = key.map { SigV4.uriEncode($0, keepSlash: true) }
        switch addressing {
        case .path:
            return (host, "/\(SigV4.uriEncode(bucket, keepSlash: false))" + (encodedKey.map { "/\($0)" } ?? ""))
        case .virtualHost:
            return ("\(bucket).\(host)", "/" + (encodedKey ?? ""))
        }
    }

    /// Bucket names usable as a DNS label under TLS (no dots, lower case).
    static func isDNSCompatible(_ bucket: String) -> Bool {
        (3...63).contains(bucket.count) && !bucket.contains(".")
            && bucket.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" } && bucket.first != "-" && bucket.last != "-"
    }
}

/// The keys that sign requests. `anonymous` sends requests unsigned (public buckets, moto).
public struct S3Credentials: Sendable, CustomStringConvertible {
    public var accessKey: String
    public var secretKey: Secret
    public var sessionToken: Secret?
    /// Where they came from, for messages: `ak/sk in the config`, `environment (AWS_ACCESS_KEY_ID)`.
    public var origin: String

    public init(accessKey: String, secretKey: Secret, sessionToken: Secret? = nil, origin: String) {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
        self.origin = origin
    }

    public var isAnonymous: Bool { accessKey.isEmpty }

    public static let anonymous = S3Credentials(accessKey: "", secretKey: Secret(""), origin: "anonymous (no ak/sk)")

    /// Never prints the secret.
    public var description: String { isAnonymous ? origin : "access key '\(accessKey)' from \(origin)" }

    static func sharedFile(_ environment: [String: String]) -> (path: String, profile: String) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        return (environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials", environment["AWS_PROFILE"] ?? "default")
    }

    static func notFound(file: String, base: String, environment: [String: String]) -> MigrationError {
        let (path, profile) = sharedFile(environment)
        return .config(file: file, key: "\(base).useIAM", message: "no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a [\(profile)] profile in \(path), AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, or AWS_CONTAINER_CREDENTIALS_FULL_URI/RELATIVE_URI (instance metadata is not queried)")
    }

    /// `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token` of one INI profile.
    static func sharedCredentials(_ text: String, profile: String) -> (String, String, String?)? {
        var section = ""
        var values: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                continue
            }
            guard section == profile, let eq = line.firstIndex(of: "=") else { continue }
            values[line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        guard let ak = values["aws_access_key_id"], let sk = values["aws_secret_access_key"], !ak.isEmpty, !sk.isEmpty else { return nil }
        return (ak, sk, values["aws_session_token"])
    }
}
