import Foundation

/// Where and how to reach one bucket: the resolved form of the `cloud`, `endpoint`, `region`,
/// `useSSL` keys, the credentials, and the transfer tuning.
public struct S3Settings: Sendable {
    public enum Addressing: String, Sendable {
        /// `https://host/bucket/key`
        case path
        /// `https://bucket.host/key`
        case virtualHost
    }

    public var provider: MigrationConfig.Cloud
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

    public init(provider: MigrationConfig.Cloud = .aws, useSSL: Bool, host: String, region: String, bucket: String,
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

    /// Resolves the `cloud` key the way the reference tool does (anchor §4), with explicit
    /// errors instead of panics. `base` is `target.remote` or `source.remote` for messages.
    public static func resolve(_ r: MigrationConfig.RemoteStorage, file: String, base: String,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> S3Settings {
        guard let bucket = r.bucket, !bucket.isEmpty else {
            throw MigrationError.config(file: file, key: "\(base).bucket", message: "missing; the bucket to use")
        }
        var useSSL = r.useSSL
        var endpoint = r.endpoint?.trimmingCharacters(in: .whitespaces) ?? ""
        // An endpoint written as a URL decides the scheme itself.
        if endpoint.hasPrefix("https://") {
            useSSL = true
            endpoint.removeFirst("https://".count)
        } else if endpoint.hasPrefix("http://") {
            useSSL = false
            endpoint.removeFirst("http://".count)
        }
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        if endpoint.contains("/") {
            throw MigrationError.config(file: file, key: "\(base).endpoint", message: "'\(r.endpoint!)' has a path; give host or host:port only")
        }
        var region = r.region ?? ""
        let host: String
        var addressing: Addressing
        switch r.cloud {
        case .aws:
            if region.isEmpty { region = "us-east-1" }
            if endpoint.isEmpty {
                host = "s3.\(region).amazonaws.com"
                useSSL = true
                addressing = isDNSCompatible(bucket) ? .virtualHost : .path
            } else {
                host = endpoint
                addressing = .path
            }
        case .minio:
            guard !endpoint.isEmpty else {
                throw MigrationError.config(file: file, key: "\(base).endpoint", message: "missing; cloud minio needs host:port of the S3 endpoint")
            }
            if region.isEmpty { region = "us-east-1" }
            host = endpoint
            addressing = .path
        case .gcp:
            // The XML API with HMAC keys; any region string is accepted, "auto" is the documented one.
            host = endpoint.isEmpty ? "storage.googleapis.com" : endpoint
            if endpoint.isEmpty { useSSL = true }
            if region.isEmpty { region = "auto" }
            addressing = .path
        case .ali:
            guard !region.isEmpty || !endpoint.isEmpty else {
                throw MigrationError.config(file: file, key: "\(base).region", message: "missing; cloud ali needs the OSS region (oss-cn-hangzhou) or an endpoint")
            }
            host = endpoint.isEmpty ? "\(region).oss.aliyuncs.com" : endpoint
            if region.isEmpty { region = endpoint.split(separator: ".").first.map(String.init) ?? "" }
            addressing = .virtualHost // OSS refuses path-style requests
        case .tc:
            guard !region.isEmpty || !endpoint.isEmpty else {
                throw MigrationError.config(file: file, key: "\(base).region", message: "missing; cloud tc needs the COS region (ap-guangzhou) or an endpoint")
            }
            host = endpoint.isEmpty ? "cos.\(region).myqcloud.com" : endpoint
            if region.isEmpty { region = endpoint.split(separator: ".").dropFirst().first.map(String.init) ?? "" }
            useSSL = true // as the reference tool: COS always over TLS
            addressing = .virtualHost // COS wants <bucket-appid>.cos.<region>.myqcloud.com
        case .azure, .az:
            throw MigrationError.config(file: file, key: "\(base).cloud", message: "azure (Blob storage) is not supported yet; use an S3-compatible store (aws, minio, gcp, ali, tc)")
        }
        var credentials = S3Credentials.anonymous
        var refresher: S3CredentialRefresher?
        if let found = try S3Credentials.resolve(r, file: file, base: base, environment: environment) {
            credentials = found
        } else if let chain = try S3CredentialChain.refresher(environment: environment, region: region, configKey: base, file: file) {
            refresher = chain
            credentials = S3Credentials(accessKey: "", secretKey: Secret(""), origin: chain.origin)
        } else {
            throw S3Credentials.notFound(file: file, base: base, environment: environment)
        }
        var settings = S3Settings(provider: r.cloud, useSSL: useSSL, host: host, region: region, bucket: bucket,
                                  addressing: addressing, credentials: credentials)
        settings.refresher = refresher
        settings.configKey = base
        if let mb = r.partSizeMB { settings.partSize = mb << 20 }
        if let n = r.uploadConcurrency { settings.partConcurrency = n }
        if let n = r.maxRetries { settings.maxAttempts = n + 1 }
        if let signPayload = r.signPayload { settings.signPayload = signPayload }
        return settings
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

    /// `ak`/`sk`, or with `useIAM: true`: the AWS environment variables, then the shared
    /// credentials file (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`, profile
    /// `AWS_PROFILE` or `default`). nil: look further down the chain (web identity, container
    /// credentials: `S3CredentialChain`). Instance metadata is not queried.
    public static func resolve(_ r: MigrationConfig.RemoteStorage, file: String, base: String, environment: [String: String]) throws -> S3Credentials? {
        if !r.useIAM {
            let ak = r.accessKey?.revealed ?? ""
            let sk = r.secretKey?.revealed ?? ""
            if ak.isEmpty && sk.isEmpty { return .anonymous }
            guard !ak.isEmpty else { throw MigrationError.config(file: file, key: "\(base).ak", message: "missing; sk is set, ak must be too") }
            guard !sk.isEmpty else { throw MigrationError.config(file: file, key: "\(base).sk", message: "missing; ak is set, sk must be too") }
            return S3Credentials(accessKey: ak, secretKey: Secret(sk), origin: "\(base).ak/sk")
        }
        if let ak = environment["AWS_ACCESS_KEY_ID"], !ak.isEmpty {
            guard let sk = environment["AWS_SECRET_ACCESS_KEY"], !sk.isEmpty else {
                throw MigrationError.config(file: file, key: "\(base).useIAM", message: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
            }
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : Secret($0) }
            return S3Credentials(accessKey: ak, secretKey: Secret(sk), sessionToken: token, origin: "the environment (AWS_ACCESS_KEY_ID)")
        }
        let (path, profile) = sharedFile(environment)
        if let text = try? String(contentsOfFile: path, encoding: .utf8), let found = sharedCredentials(text, profile: profile) {
            return S3Credentials(accessKey: found.0, secretKey: Secret(found.1), sessionToken: found.2.map(Secret.init),
                                 origin: "\(path) [\(profile)]")
        }
        return nil
    }

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
