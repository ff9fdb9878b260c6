import GRPCCore

/// Why a connection to Milvus failed at the TLS layer, read from the transport's error chain
/// (`RPCError` → `RuntimeError` → NIOSSL's error, whose text carries BoringSSL's reason names such
/// as `CERTIFICATE_VERIFY_FAILED`: stable identifiers of the TLS library, not prose).
/// A TLS failure is a configuration problem: it is reported at once, never retried as "unavailable".
enum MilvusTLSProblem: Equatable, Sendable {
    /// The server's certificate does not chain to a trusted CA (tls.caFile, or the system roots).
    case untrustedServerCertificate
    /// The certificate is valid, but not for the name (or IP address) the client checks.
    case serverNameMismatch
    /// The server (tlsMode 2) wants a client certificate and none was sent.
    case clientCertificateRequired
    /// The server refused the client certificate that was sent.
    case clientCertificateRejected
    /// The client speaks TLS, the server does not (tlsMode 0).
    case serverNotTLS
    /// The client speaks plaintext and the connection was dropped (a TLS server does that).
    case plaintextDropped

    /// Classifies `error` (with its causes); nil when nothing points at TLS.
    static func classify(_ error: any Error, clientUsesTLS: Bool) -> MilvusTLSProblem? {
        let text = causeChain(error).joined(separator: " | ")
        if clientUsesTLS {
            if text.contains("failedToValidateHostname") || text.contains("unableToValidateCertificate") { return .serverNameMismatch }
            if text.contains("CERTIFICATE_VERIFY_FAILED") { return .untrustedServerCertificate }
            if text.contains("CERTIFICATE_REQUIRED") { return .clientCertificateRequired }
            if text.contains("TLSV1_ALERT_UNKNOWN_CA") || text.contains("SSLV3_ALERT_BAD_CERTIFICATE")
                || text.contains("TLSV1_ALERT_DECRYPT_ERROR") || text.contains("SSLV3_ALERT_CERTIFICATE_UNKNOWN") { return .clientCertificateRejected }
            if text.contains("WRONG_VERSION_NUMBER") || text.contains("RECORD_TOO_LARGE") || text.contains("PACKET_LENGTH_TOO_LONG")
                || text.contains("HTTP_REQUEST") || text.contains("UNEXPECTED_RECORD") { return .serverNotTLS }
            return nil
        }
        // (NIO describes a refused connect as "connection reset (error set): Connection refused".)
        if text.contains("closed the connection before completing the HTTP/2 connection preface") && !text.contains("refused") {
            return .plaintextDropped
        }
        return nil
    }

    /// `String(reflecting:)` of the error and each `cause` below it.
    static func causeChain(_ error: any Error) -> [String] {
        var out: [String] = []
        var current: (any Error)? = error
        var depth = 0
        while let e = current, depth < 8 {
            out.append(String(reflecting: e))
            switch e {
            case let rpc as RPCError: current = rpc.cause
            case let runtime as RuntimeError: current = runtime.cause
            default: current = nil
            }
            depth += 1
        }
        return out
    }

    /// One sentence naming what to fix (the caller prefixes "Milvus at <endpoint>: ").
    func message(options: MilvusClient.Options) -> String {
        let name = options.serverName ?? options.endpoint.host
        switch self {
        case .untrustedServerCertificate:
            let trust = options.caFile.map { "the CA in '\($0)'" } ?? "the system's trusted CAs"
            return "the TLS handshake failed: the server's certificate is not signed by \(trust) (CERTIFICATE_VERIFY_FAILED); set target.milvus2x.tls.caFile to the CA that signed it (Milvus's tls.caPemPath)"
        case .serverNameMismatch:
            let what = options.serverName == nil && options.endpoint.hostKind != .name ? "address" : "name"
            return "the TLS handshake failed: the server's certificate is not valid for the \(what) '\(name)'; set target.milvus2x.tls.serverName to a name in the certificate, or use that name in target.milvus2x.endpoint"
        case .clientCertificateRequired:
            return "the server requires a client certificate (mutual TLS, common.security.tlsMode 2); set target.milvus2x.tls.certFile and target.milvus2x.tls.keyFile"
        case .clientCertificateRejected:
            return "the server refused the client certificate\(options.certFile.map { " '\($0)'" } ?? ""); target.milvus2x.tls.certFile must be signed by the CA of the server's tls.caPemPath, with target.milvus2x.tls.keyFile its key"
        case .serverNotTLS:
            return "the server does not answer TLS on this port (common.security.tlsMode 0?); write the endpoint without https:// and remove the target.milvus2x.tls keys, or turn TLS on at the server"
        case .plaintextDropped:
            return "the server closed the plain connection; if it serves TLS (common.security.tlsMode 1 or 2), set target.milvus2x.tls.caFile (or use an https:// endpoint); otherwise check target.milvus2x.endpoint"
        }
    }
}
