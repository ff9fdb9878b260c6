/// `target.milvus2x.endpoint`: `host:port`, `http://host:port` or `https://host[:port]`
/// (TLS; port 443 by default). A path (`https://host/db`) names the database, as the Go SDK does.
/// TLS is on for `https://` and whenever a `target.milvus2x.tls.*` key is set
/// (`MigrationConfig.milvusOptions()`); `http://` (or `tcp://`) asks for a plain connection
/// explicitly, and a `tls.*` key next to it is a config error.
public struct MilvusEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var tls: Bool
    public var database: String?
    /// The endpoint was written with `http://` or `tcp://`: plaintext asked for explicitly.
    public var explicitPlaintext = false

    public init(parsing text: String) throws {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        tls = false
        if rest.lowercased().hasPrefix("https://") {
            tls = true
            rest = rest.dropFirst(8)
        } else if rest.lowercased().hasPrefix("http://") {
            rest = rest.dropFirst(7)
            explicitPlaintext = true
        } else if rest.lowercased().hasPrefix("tcp://") {
            rest = rest.dropFirst(6)
            explicitPlaintext = true
        }
        database = nil
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...].trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            database = path.isEmpty ? nil : path
            rest = rest[..<slash]
        }
        let hostPart: Substring
        let portPart: Substring?
        if rest.hasPrefix("[") , let close = rest.firstIndex(of: "]") {
            hostPart = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            portPart = after.hasPrefix(":") ? after.dropFirst() : nil
        } else if let colon = rest.lastIndex(of: ":") {
            hostPart = rest[..<colon]
            portPart = rest[rest.index(after: colon)...]
        } else {
            hostPart = rest
            portPart = nil
        }
        guard !hostPart.isEmpty else {
            throw MigrationError.config(file: "", key: "target.milvus2x.endpoint", message: "'\(text)' has no host")
        }
        host = String(hostPart)
        if let portPart {
            guard let p = Int(portPart), (1...65535).contains(p) else {
                throw MigrationError.config(file: "", key: "target.milvus2x.endpoint", message: "'\(text)' has an invalid port")
            }
            port = p
        } else {
            port = tls ? 443 : 19530
        }
    }

    public var description: String { "\(tls ? "https://" : "")\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    /// The host is this machine by name or address: `localhost` (and `*.localhost`, RFC 6761),
    /// 127.0.0.0/8, `::1`, or an IPv4-mapped 127.x address. Decided from the text alone (no name
    /// lookup): any other name may resolve anywhere.
    public var isLoopback: Bool { Self.isLoopback(host) }

    public static func isLoopback(_ host: String) -> Bool {
        var name = host.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        if name == "localhost" || name.hasSuffix(".localhost") { return true }
        if let v4 = ipv4Bytes(name) { return v4[0] == 127 }
        if let v6 = ipv6Bytes(name) {
            if v6 == [UInt8](repeating: 0, count: 15) + [1] { return true }
            // ::ffff:127.x.y.z
            if v6[0..<10].allSatisfy({ $0 == 0 }) && v6[10] == 0xff && v6[11] == 0xff { return v6[12] == 127 }
        }
        return false
    }

    /// The kind of literal `host` is, for the transport's target (an IP literal must not be
    /// sent as the TLS server name: the certificate is checked against its IP addresses instead).
    public enum HostKind: Sendable, Equatable { case ipv4, ipv6, name }

    public var hostKind: HostKind {
        if Self.ipv4Bytes(host) != nil { return .ipv4 }
        if Self.ipv6Bytes(host) != nil { return .ipv6 }
        return .name
    }

    static func ipv4Bytes(_ text: String) -> [UInt8]? {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    static func ipv6Bytes(_ text: String) -> [UInt8]? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }
}

import Foundation
