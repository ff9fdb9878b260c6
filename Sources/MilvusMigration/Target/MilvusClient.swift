import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import MilvusProto
import SwiftProtobuf
import Synchronization

/// A connection to a Milvus 2.x server: every call has a deadline, reads are retried with backoff
/// while the server is UNAVAILABLE, `common.Status` failures become `MigrationError.target`
/// naming the endpoint and the object, and credentials travel only in the `authorization` header.
public final class MilvusClient: Sendable {
    public typealias Service = Milvus_Proto_Milvus_MilvusService.Client<HTTP2ClientTransport.Posix>

    public struct Options: Sendable {
        public var endpoint: MilvusEndpoint
        public var username: String?
        public var password: Secret?
        /// An API key or `user:password`, sent (base64) as the `authorization` header instead of
        /// username/password: Zilliz Cloud and Milvus with authentication.
        public var token: Secret?
        public var database: String?
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        /// Deadline of ordinary calls.
        public var callTimeout: Duration = .seconds(30)
        /// Deadline of DDL calls (create/drop/import), which a restarting server can stall.
        public var ddlTimeout: Duration = .seconds(90)
        /// Attempts for retryable calls while the server is unavailable.
        public var attempts = 5
        /// TLS server name (SNI and certificate check) and `:authority`, when not the endpoint host.
        public var serverName: String?
        /// Largest message received / sent (Milvus's proxy allows 64 MiB by default).
        public var maxReceiveBytes = 64 << 20
        public var maxSendBytes = 64 << 20
        /// Create `database` when it does not exist (load, start); otherwise a missing database is an error (verify).
        public var createsDatabase = true

        public init(endpoint: MilvusEndpoint) {
            self.endpoint = endpoint
        }

        /// Credentials (`authorization` header) are sent: a user name or a token is set.
        public var sendsCredentials: Bool { !(username ?? "").isEmpty || !(token?.revealed ?? "").isEmpty }

        /// Who the credentials are, for messages (never the token itself).
        var credentialName: String {
            if let user = username, !user.isEmpty { return "user '\(user)'" }
            return sendsCredentials ? "the token (target.milvus2x.token)" : "no credentials"
        }

        /// The config keys to check when authentication fails.
        var credentialKeys: String {
            !(token?.revealed ?? "").isEmpty && (username ?? "").isEmpty ? "target.milvus2x.token" : "target.milvus2x.username and password"
        }

        /// The warning to give once when credentials would travel unencrypted to a host that is not
        /// this machine (loopback by name or address); nil when TLS is on, no credentials are
        /// sent, or the host is loopback.
        public var plaintextCredentialsWarning: String? {
            guard sendsCredentials, !endpoint.tls, !endpoint.isLoopback else { return nil }
            return "the credentials of \(credentialName) go to Milvus at \(endpoint) without TLS, readable by anyone on the network path; use an https:// endpoint or set target.milvus2x.tls.caFile (the server needs common.security.tlsMode 1 or 2)"
        }
    }

    public let options: Options
    let service: Service
    let metadata: Metadata
    let logger = Logger(label: "milvus-migration.milvus")

    /// The connections of `Insert` requests (see `InsertConnections`).
    let inserts: InsertConnections

    init(options: Options, service: Service, inserts: InsertConnections) {
        self.options = options
        self.service = service
        self.inserts = inserts
        var metadata: Metadata = [:]
        if let user = options.username, !user.isEmpty {
            let token = Data("\(user):\(options.password?.revealed ?? "")".utf8).base64EncodedString()
            metadata.addString(token, forKey: "authorization")
        } else if let token = options.token?.revealed, !token.isEmpty {
            metadata.addString(Data(token.utf8).base64EncodedString(), forKey: "authorization")
        }
        self.metadata = metadata
    }

    public var endpoint: String { options.endpoint.description }
    public var database: String { options.database ?? "" }

    /// Connects, checks the server answers (GetVersion, which also checks the credentials), selects
    /// or creates the database, runs `body`, and closes the connection.
    public static func with<T: Sendable>(_ options: Options, _ body: (MilvusClient) async throws -> T) async throws -> T {
        if let warning = options.plaintextCredentialsWarning { PlaintextWarning.once(warning) }
        let security: HTTP2ClientTransport.Posix.TransportSecurity
        if options.endpoint.tls {
            let ca = options.caFile
            let chain = options.certFile.map { [TLSConfig.CertificateSource.file(path: $0, format: .pem)] } ?? []
            let key = options.keyFile.map { TLSConfig.PrivateKeySource.file(path: $0, format: .pem) }
            security = .tls { config in
                if let ca { config.trustRoots = .certificates([.file(path: ca, format: .pem)]) }
                config.certificateChain = chain
                config.privateKey = key
                config.serverCertificateVerification = .fullVerification
            }
        } else {
            security = .plaintext
        }
        // An IP literal goes as an IP target: the transport then sends no SNI (an IP is not a
        // valid server name; with a DNS target the handshake failed) and checks the certificate's
        // IP addresses. tls.serverName, when set, is the name sent and checked instead.
        let makeTransport: @Sendable () throws -> HTTP2ClientTransport.Posix = {
            let target: any ResolvableTarget
            switch options.endpoint.hostKind {
            case .ipv4: target = ResolvableTargets.IPv4.ipv4(address: options.endpoint.host, port: options.endpoint.port)
            case .ipv6: target = ResolvableTargets.IPv6.ipv6(address: options.endpoint.host, port: options.endpoint.port)
            case .name: target = ResolvableTargets.DNS.dns(host: options.endpoint.host, port: options.endpoint.port)
            }
            do {
                return try HTTP2ClientTransport.Posix(
                    target: target,
                    transportSecurity: security,
                    config: .defaults {
                        $0.http2.maxFrameSize = 1 << 20
                        if let name = options.serverName { $0.http2.authority = name }
                    })
            } catch {
                // Nothing was sent yet: the transport refuses its local setup, with TLS the files
                // of tls.caFile / certFile / keyFile (unreadable, not PEM, key and certificate
                // apart).
                throw MigrationError.target(options.endpoint.tls ? .tls : .configuration, subject: "Milvus at \(options.endpoint)",
                                            message: "cannot set up the connection: \(error)")
            }
        }
        let grpc = GRPCClient(transport: try makeTransport())
        // The connections run in a task of their own, not a child of the caller's: cancelling a
        // job (Ctrl-C, SIGTERM, the job API's cancel) must not cut the RPCs in flight. Cancelling
        // the task that runs the connections stops them abruptly, and Milvus 2.3.5's proxy
        // crashes when a GetImportState or Import is cancelled (milvus-io/milvus#35539). Every
        // call already runs to its answer (see `call`); the client closes gracefully after them.
        let connections = Task { try await grpc.runConnections() }
        let inserts = InsertConnections(makeTransport: makeTransport)
        func close() async {
            grpc.beginGracefulShutdown()
            _ = try? await connections.value
            await inserts.shutdown()
        }
        do {
            let client = MilvusClient(options: options, service: Service(wrapping: grpc), inserts: inserts)
            try await client.handshake()
            let result = try await body(client)
            await close()
            return result
        } catch {
            await close()
            throw error
        }
    }

    /// GetVersion (reachability and credentials), then the database.
    func handshake() async throws {
        let version = try await call("GetVersion", subject: "Milvus at \(endpoint)", retry: true) {
            try await self.service.getVersion(.init(), metadata: self.metadata, options: self.callOptions())
        }
        try check(version.status, "GetVersion", subject: "Milvus at \(endpoint)")
        logger.info("connected to Milvus \(version.version) at \(endpoint)")
        if let db = options.database, !db.isEmpty, db != "default" {
            let list = try await call("ListDatabases", subject: "Milvus at \(endpoint)", retry: true) {
                try await self.service.listDatabases(.init(), metadata: self.metadata, options: self.callOptions())
            }
            try check(list.status, "ListDatabases", subject: "Milvus at \(endpoint)")
            if !list.dbNames.contains(db) {
                guard options.createsDatabase else {
                    throw MigrationError.target(.databaseMissing, subject: "database '\(db)'", message: "does not exist at \(endpoint); check target.milvus2x.database")
                }
                let status = try await call("CreateDatabase", subject: "database '\(db)'", retry: false, ddl: true) {
                    try await self.service.createDatabase(.with { $0.dbName = db }, metadata: self.metadata, options: self.callOptions(ddl: true))
                }
                try check(status, "CreateDatabase", subject: "database '\(db)'")
                logger.notice("created database \(db)")
            }
        }
    }

    func callOptions(ddl: Bool = false) -> CallOptions {
        var o = CallOptions.defaults
        o.timeout = ddl ? options.ddlTimeout : options.callTimeout
        o.maxResponseMessageBytes = options.maxReceiveBytes
        o.maxRequestMessageBytes = options.maxSendBytes
        return o
    }

    /// Runs one RPC, retrying UNAVAILABLE (connection refused, server restarting) when `retry`.
    ///
    /// An RPC, once sent, is never cancelled: when the job is interrupted (Ctrl-C) the call runs to
    /// its answer or deadline and the job stops at its next step. Cancelling an in-flight call
    /// gains nothing (its effect on the server is unknown either way) and crashes Milvus 2.3.5,
    /// whose proxy dereferences a nil response when a GetImportState context is cancelled.
    func call<T: Sendable>(_ rpc: String, subject: String, retry: Bool, ddl: Bool = false,
                           _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        var delay = 0.2
        var attempt = 1
        while true {
            do {
                return try await Task { try await body() }.value
            } catch let error as RPCError {
                if retry && error.code == .unavailable && attempt < options.attempts
                    && MilvusTLSProblem.classify(error, clientUsesTLS: options.endpoint.tls) == nil {
                    logger.debug("\(rpc) unavailable (\(error.message)); retrying in \(delay) s")
                    MigrationMetrics.retry(.milvus, cause: "unavailable")
                    try await Task.sleep(for: .seconds(delay))
                    delay = min(delay * 2, 3)
                    attempt += 1
                    continue
                }
                throw translate(error, rpc: rpc, subject: subject)
            }
        }
    }

    func translate(_ error: RPCError, rpc: String, subject: String) -> MigrationError {
        logger.debug("\(rpc) failed: \(error.code) \(error.message); cause: \(String(describing: error.cause))")
        if error.code == .unavailable || error.code == .internalError || error.code == .unknown,
           let tls = MilvusTLSProblem.classify(error, clientUsesTLS: options.endpoint.tls) {
            return .target(.tls, subject: "Milvus at \(endpoint)", message: tls.message(options: options))
        }
        switch error.code {
        case .unavailable:
            return .target(.unreachable, subject: "Milvus at \(endpoint)", message: "unreachable (\(rpc): \(error.message)); check target.milvus2x.endpoint and that the server is up")
        case .unauthenticated, .permissionDenied:
            return .target(.authentication, subject: "Milvus at \(endpoint)", message: "authentication failed for \(options.credentialName) (\(error.message)); check \(options.credentialKeys)")
        case .deadlineExceeded:
            return .target(.timedOut, subject: subject, message: "\(rpc) timed out at \(endpoint)")
        case .unknown, .internalError, .aborted, .dataLoss, .cancelled:
            // Not Milvus's own refusal (that comes as a status in the answer): a proxy or the
            // transport failed, possibly after the request reached the server.
            return .target(.outcomeUnknown, subject: subject, message: "\(rpc) failed at \(endpoint): \(error.code) \(error.message)", serverReason: error.message)
        default:
            return .target(.refused, subject: subject, message: "\(rpc) failed at \(endpoint): \(error.code) \(error.message)", serverReason: error.message)
        }
    }

    /// A call succeeded only when both `code` and the deprecated `error_code` are 0.
    func check(_ status: Milvus_Proto_Common_Status, _ rpc: String, subject: String) throws {
        guard let kind = Self.failureKind(status) else { return }
        let reason = status.reason.isEmpty ? "error code \(status.code)/\(status.errorCode)" : status.reason
        switch kind {
        case .authentication:
            throw MigrationError.target(.authentication, subject: "Milvus at \(endpoint)", message: "authentication failed for \(options.credentialName) (\(reason)); check \(options.credentialKeys)")
        case .databaseMissing:
            throw MigrationError.target(.databaseMissing, subject: "database '\(database)'", message: "does not exist at \(endpoint) (\(reason))", serverReason: reason)
        case .busy:
            throw MigrationError.target(.busy, subject: subject, message: "\(rpc) refused for now: \(reason)", serverReason: reason)
        default:
            throw MigrationError.target(kind, subject: subject, message: "\(rpc) failed: \(reason)", serverReason: reason)
        }
    }

    /// What a non-success status means, nil for success: the one place the server's codes and
    /// texts are interpreted.
    static func failureKind(_ status: Milvus_Proto_Common_Status) -> TargetFailure.Kind? {
        guard status.code != 0 || status.errorCode != .success else { return nil }
        let lower = status.reason.lowercased()
        if status.errorCode == .permissionDenied || lower.contains("auth") && (lower.contains("fail") || lower.contains("need")) {
            return .authentication
        }
        if lower.contains("database not found") || lower.contains("database not exist") {
            return .databaseMissing
        }
        // Come back later, nothing was done: Milvus 2.4+ import-v2's "too many import jobs pending"
        // (2100), and the retriable service errors of Milvus's error table, which managed services
        // (Zilliz Cloud) answer under load: `code` 8 rate limit (`error_code` RateLimit), 4 too many
        // requests, 12 resource insufficient. Codes 1 and 2 are not among them: Milvus Lite sends
        // 1 for every error, and small codes mean other things to older servers, so 4 and 12 also
        // need their words.
        let pleaseRetry = lower.contains("too many") || lower.contains("insufficient") || lower.contains("limit")
        if status.code == 2100 || lower.contains("number of jobs has reached the limit")
            || status.code == 8 || status.errorCode == .rateLimit || [4, 12].contains(status.code) && pleaseRetry {
            return .busy
        }
        return status.code == 101 || status.code == 103 || lower.contains("not loaded") ? .notLoaded : .refused
    }
}

/// The plaintext-credentials warning is given once per process (start connects twice).
enum PlaintextWarning {
    private static let given = Mutex(false)
    private static let logger = Logger(label: "milvus-migration.milvus")

    static func once(_ message: String) {
        let first = given.withLock { given in
            defer { given = true }
            return !given
        }
        if first { logger.warning("\(message)") }
    }
}

/// The connections `Insert` requests go over. A long stream of large requests makes the Milvus
/// (grpc-go) server send flow-control frames (PING, SETTINGS) faster than swift-nio-http2's
/// denial-of-service limit accepts (200 control frames in 30 s), and the client then closes the
/// connection in the middle of a request ("Stream unexpectedly closed", measured after 200-700 MB
/// of inserts into Milvus 2.3.5). Inserts therefore go over connections of their own, each
/// replaced by a fresh one after `recycleBytes` of requests; a replaced connection finishes the
/// requests it carries and closes.
actor InsertConnections {
    typealias Client = GRPCClient<HTTP2ClientTransport.Posix>
    private let makeTransport: @Sendable () throws -> HTTP2ClientTransport.Posix
    private let recycleBytes: Int
    private var current: (client: Client, service: MilvusClient.Service)?
    private var sent = 0
    /// The running connections, each removed once it has closed (a long job replaces one every
    /// `recycleBytes`, so finished ones must not pile up).
    private var runners: [Int: Task<Void, Never>] = [:]
    private var nextRunner = 0

    init(makeTransport: @escaping @Sendable () throws -> HTTP2ClientTransport.Posix, recycleBytes: Int = 32 << 20) {
        self.makeTransport = makeTransport
        self.recycleBytes = recycleBytes
    }

    /// The connection for a request of `bytes`: the current one, or a fresh one when the current
    /// one has carried `recycleBytes`.
    func service(sending bytes: Int) throws -> MilvusClient.Service {
        if let current, sent == 0 || sent + bytes <= recycleBytes {
            sent += bytes
            return current.service
        }
        current?.client.beginGracefulShutdown()
        let client = Client(transport: try makeTransport())
        let id = nextRunner
        nextRunner += 1
        runners[id] = Task {
            try? await client.runConnections()
            await self.closed(id)
        }
        let service = MilvusClient.Service(wrapping: client)
        current = (client, service)
        sent = bytes
        return service
    }

    /// Closes every connection once its requests have finished.
    func shutdown() async {
        current?.client.beginGracefulShutdown()
        current = nil
        while let (_, runner) = runners.first { await runner.value }
    }

    private func closed(_ id: Int) { runners[id] = nil }

    /// Connections not yet closed (for tests).
    var open: Int { runners.count }
}
