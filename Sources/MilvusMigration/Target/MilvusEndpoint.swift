/// `target.milvus2x.endpoint`: `host:port`, `http://host:port` or `https://host[:port]`
/// (TLS; port 443 by default). A path (`https://host/db`) names the database, as the Go SDK does.
public struct MilvusEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var tls: Bool
    public var database: String?

    public init(parsing text: String) throws {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        tls = false
        if rest.lowercased().hasPrefix("https://") {
            tls = true
            rest = rest.dropFirst(8)
        } else if rest.lowercased().hasPrefix("http://") {
            rest = rest.dropFirst(7)
        } else if rest.lowercased().hasPrefix("tcp://") {
            rest = rest.dropFirst(6)
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
}

import Foundation
