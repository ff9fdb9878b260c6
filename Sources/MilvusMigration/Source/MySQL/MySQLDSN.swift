import Foundation

/// Where and how to reach the MySQL server that holds a Milvus 1.x meta. Parsed from the forms
/// users already have:
///
/// - the Go driver's DSN, as the Milvus user guide and the reference tool take it:
///   `user:password@tcp(host:port)/milvus?charset=utf8mb4&parseTime=True&loc=Local`, and
///   `user:password@unix(/path/mysqld.sock)/milvus`. No percent-decoding in the user and password
///   (as in Go); the password may contain `@`, `:`, `/`, `(`, `)`.
/// - a URL: `mysql://user:password@host:port/milvus` (user, password and database percent-decoded;
///   `?socket=/path` for a unix socket).
///
/// Parameters this tool does not need (`charset`, `parseTime`, `loc`, …) are accepted and ignored.
/// Understood: `tls` (`false` default, `true`, `skip-verify`, `preferred`), `timeout` (connect),
/// `readTimeout`, `writeTimeout` (Go durations: `10s`, `1m30s`, `500ms`), and `tlsCA` (a PEM file of
/// CAs, an addition of this tool). The password is a `Secret`: `description` never shows it.
public struct MySQLDSN: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)
    }

    public enum TLSMode: String, Sendable, Equatable {
        /// Plain connection (the Go driver's default).
        case disabled = "false"
        /// TLS required, the server certificate verified (a private CA: `tlsCA`).
        case verified = "true"
        /// TLS required, the certificate not verified.
        case skipVerify = "skip-verify"
        /// TLS when the server offers it.
        case preferred
    }

    /// A DSN that cannot be parsed. The message never contains the password.
    public struct ParseError: Error, Equatable, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    public var user: String
    public var password: Secret
    public var endpoint: Endpoint
    public var database: String
    public var tls: TLSMode = .disabled
    public var tlsCAFile: String?
    /// Seconds; the connector's timeouts are whole seconds (rounded up, at least 1).
    public var connectTimeout: UInt32 = 10
    public var readTimeout: UInt32 = 60
    public var writeTimeout: UInt32 = 60

    public init(user: String, password: Secret, endpoint: Endpoint, database: String) {
        self.user = user
        self.password = password
        self.endpoint = endpoint
        self.database = database
    }

    public static let defaultPort = 3306

    /// The server address without the password: `mysql://user@127.0.0.1:3306/milvus` or
    /// `mysql://user@unix(/run/mysqld/mysqld.sock)/milvus`. Used in every message.
    public var redacted: String {
        let userPart = user.isEmpty ? "" : "\(user)@"
        switch endpoint {
        case .tcp(let host, let port):
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "mysql://\(userPart)\(shownHost):\(port)/\(database)"
        case .unixSocket(let path):
            return "mysql://\(userPart)unix(\(path))/\(database)"
        }
    }

    public var description: String { redacted }
    public var debugDescription: String { redacted }

    // MARK: Parsing

    public init(parsing text: String) throws(ParseError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { throw ParseError(message: "the MySQL DSN is empty") }
        if let rest = trimmed.dropPrefix(caseInsensitive: "mysql://") {
            self = try Self.parseURL(rest)
        } else if let scheme = Self.urlScheme(trimmed) {
            throw ParseError(message: "unsupported scheme '\(scheme)://' in the MySQL DSN; use user:password@tcp(host:port)/database or mysql://user:password@host:port/database")
        } else {
            self = try Self.parseGo(trimmed)
        }
    }

    /// `scheme` of `scheme://…` (letters, digits, `+.-`; a Go DSN's `user:pass` never matches).
    private static func urlScheme(_ text: String) -> String? {
        guard let range = text.range(of: "://") else { return nil }
        let scheme = text[..<range.lowerBound]
        guard let first = scheme.first, first.isASCII, first.isLetter,
              scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+.-".contains($0)) }) else { return nil }
        return String(scheme)
    }

    /// `[user[:password]@][net[(address)]]/dbname[?params]`, nothing percent-decoded (as in Go).
    private static func parseGo(_ text: String) throws(ParseError) -> MySQLDSN {
        let (user, password, rest) = try splitUserInfo(text, parseRest: parseGoTail)
        var dsn = rest
        dsn.user = user
        dsn.password = Secret(password)
        return dsn
    }

    /// Splits `user[:password]@rest`: the `@` positions are tried from the last to the first (then
    /// none), and the first whose rest parses wins, so a password may contain `@`. The user ends at
    /// the first `:`. When nothing parses, the error about the rest after the last `@` is thrown.
    private static func splitUserInfo(_ text: String, parseRest: (String) throws(ParseError) -> MySQLDSN) throws(ParseError) -> (user: String, password: String, rest: MySQLDSN) {
        let chars = Array(text)
        var candidates: [Int?] = chars.indices.filter { chars[$0] == "@" }.reversed()
        candidates.append(nil)
        var firstError: ParseError?
        for at in candidates {
            let rest: MySQLDSN
            do throws(ParseError) {
                rest = try parseRest(String(chars[(at.map { $0 + 1 } ?? 0)...]))
            } catch {
                if firstError == nil { firstError = error }
                continue
            }
            guard let at else { return ("", "", rest) }
            let userInfo = String(chars[..<at])
            guard let colon = userInfo.firstIndex(of: ":") else { return (userInfo, "", rest) }
            return (String(userInfo[..<colon]), String(userInfo[userInfo.index(after: colon)...]), rest)
        }
        throw firstError ?? ParseError(message: "not a MySQL DSN")
    }

    /// `net[(address)]/dbname[?params]`
    private static func parseGoTail(_ tail: String) throws(ParseError) -> MySQLDSN {
        let shape = "expected user:password@tcp(host:port)/database"
        guard let slash = tail.firstIndex(of: "/") else {
            throw ParseError(message: "the MySQL DSN has no '/database' part; \(shape)")
        }
        var netPart = String(tail[..<slash])
        var address: String?
        var afterAddress = slash
        if let open = netPart.firstIndex(of: "(") {
            // The address runs to the first ")/" (a unix socket path may contain '/').
            guard let close = tail.range(of: ")/", range: open..<tail.endIndex) else {
                throw ParseError(message: "the MySQL DSN's address is not closed by ')' before '/database'; \(shape)")
            }
            address = String(tail[tail.index(after: open)..<close.lowerBound])
            netPart = String(tail[..<open])
            afterAddress = tail.index(before: close.upperBound)
        }
        guard netPart.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw ParseError(message: "the MySQL DSN's protocol is not a word; \(shape)")
        }
        let rest = tail[tail.index(after: afterAddress)...]
        let (database, query) = splitQuery(String(rest))
        guard !database.contains("/") else {
            throw ParseError(message: "the MySQL DSN's database name contains '/'; \(shape)")
        }
        let endpoint: Endpoint
        switch netPart.lowercased() {
        case "", "tcp", "tcp4", "tcp6":
            endpoint = try tcpEndpoint(address ?? "127.0.0.1:\(defaultPort)", form: "tcp(host:port)")
        case "unix":
            guard let address, !address.isEmpty else {
                throw ParseError(message: "unix() in the MySQL DSN needs the socket path: unix(/run/mysqld/mysqld.sock)")
            }
            endpoint = .unixSocket(path: address)
        default:
            throw ParseError(message: "unsupported protocol in the MySQL DSN; use tcp(host:port) or unix(/path/to/socket)")
        }
        var dsn = MySQLDSN(user: "", password: Secret(""), endpoint: endpoint, database: database)
        try dsn.apply(query, decode: true)
        try dsn.requireDatabase()
        return dsn
    }

    /// `user:password@host[:port]/database[?params]` after `mysql://`; user, password and database percent-decoded.
    private static func parseURL(_ text: String) throws(ParseError) -> MySQLDSN {
        let (user, password, rest) = try splitUserInfo(text, parseRest: parseURLTail)
        guard let decodedUser = user.removingPercentEncoding, let decodedPassword = password.removingPercentEncoding else {
            throw ParseError(message: "the user or password of the mysql:// URL has a bad %-escape (write % as %25)")
        }
        var dsn = rest
        dsn.user = decodedUser
        dsn.password = Secret(decodedPassword)
        return dsn
    }

    private static func parseURLTail(_ tail: String) throws(ParseError) -> MySQLDSN {
        let shape = "expected mysql://user:password@host:port/database"
        let hostEnd = tail.firstIndex { $0 == "/" || $0 == "?" } ?? tail.endIndex
        let hostPart = String(tail[..<hostEnd])
        var database = ""
        var query = ""
        if hostEnd < tail.endIndex {
            let rest = String(tail[hostEnd...])
            if rest.hasPrefix("/") {
                (database, query) = splitQuery(String(rest.dropFirst()))
            } else {
                query = String(rest.dropFirst())
            }
        }
        guard !database.contains("/") else {
            throw ParseError(message: "the mysql:// URL's database name contains '/'; \(shape)")
        }
        guard let decodedDatabase = database.removingPercentEncoding else {
            throw ParseError(message: "the database name of the mysql:// URL has a bad %-escape")
        }
        let endpoint = try tcpEndpoint(hostPart.isEmpty ? "127.0.0.1" : hostPart, form: "host:port")
        var dsn = MySQLDSN(user: "", password: Secret(""), endpoint: endpoint, database: decodedDatabase)
        try dsn.apply(query, decode: true)
        try dsn.requireDatabase()
        return dsn
    }

    /// `host`, `host:port`, `[v6]`, `[v6]:port`.
    private static func tcpEndpoint(_ address: String, form: String) throws(ParseError) -> Endpoint {
        var host = address
        var portText: String?
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]") else {
                throw ParseError(message: "the MySQL address has '[' without ']'")
            }
            host = String(address[address.index(after: address.startIndex)..<close])
            let after = address[address.index(after: close)...]
            if after.hasPrefix(":") {
                portText = String(after.dropFirst())
            } else if !after.isEmpty {
                throw ParseError(message: "the MySQL address is not \(form)")
            }
        } else if let colon = address.lastIndex(of: ":") {
            guard address.firstIndex(of: ":") == colon else {
                throw ParseError(message: "the MySQL address is not \(form) (write an IPv6 host as [::1]:3306)")
            }
            host = String(address[..<colon])
            portText = String(address[address.index(after: colon)...])
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._:%".contains($0)) }) else {
            throw ParseError(message: "the MySQL host is not a host name or IP address")
        }
        var port = defaultPort
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw ParseError(message: "the MySQL port is not a number from 1 to 65535")
            }
            port = value
        }
        return .tcp(host: host, port: port)
    }

    private static func splitQuery(_ text: String) -> (String, String) {
        guard let question = text.firstIndex(of: "?") else { return (text, "") }
        return (String(text[..<question]), String(text[text.index(after: question)...]))
    }

    private func requireDatabase() throws(ParseError) {
        if database.isEmpty {
            throw ParseError(message: "the MySQL DSN names no database: add /database (the one Milvus 1.x used, e.g. /milvus)")
        }
    }

    private mutating func apply(_ query: String, decode: Bool) throws(ParseError) {
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let key: String, rawValue: String
            if let equals = pair.firstIndex(of: "=") {
                key = String(pair[..<equals])
                rawValue = String(pair[pair.index(after: equals)...])
            } else {
                key = String(pair)
                rawValue = ""
            }
            let value = decode ? (rawValue.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? rawValue) : rawValue
            switch key {
            case "tls":
                switch value.lowercased() {
                case "false", "0", "": tls = .disabled
                case "true", "1": tls = .verified
                case "skip-verify": tls = .skipVerify
                case "preferred": tls = .preferred
                default:
                    throw ParseError(message: "the tls parameter of the MySQL DSN takes true, false, skip-verify or preferred (named TLS configs of the Go driver do not exist here; give a CA file with tlsCA=/path/ca.pem)")
                }
            case "tlsCA":
                tlsCAFile = value.isEmpty ? nil : value
            case "timeout":
                connectTimeout = try Self.seconds(value, key: key)
            case "readTimeout":
                readTimeout = try Self.seconds(value, key: key)
            case "writeTimeout":
                writeTimeout = try Self.seconds(value, key: key)
            case "socket":
                guard !value.isEmpty else { throw ParseError(message: "socket= in the MySQL DSN needs the socket path") }
                endpoint = .unixSocket(path: value)
            default:
                continue // charset, parseTime, loc, collation, …: the Go driver's, not needed here.
            }
        }
        if tlsCAFile != nil && tls == .disabled { tls = .verified }
    }

    /// A Go duration (`30s`, `1m30s`, `500ms`, `2h`; a bare number is seconds) in whole seconds, ≥ 1.
    static func seconds(_ text: String, key: String) throws(ParseError) -> UInt32 {
        let bad = ParseError(message: "\(key) in the MySQL DSN is not a duration like 30s, 1m30s or 500ms")
        if let plain = Double(text) {
            guard plain > 0, plain < 1e9 else { throw bad }
            return UInt32(plain.rounded(.up))
        }
        let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000001), ("µs", 0.000001), ("ns", 1e-9), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text)
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { throw bad }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { throw bad }
            rest = rest.dropFirst(unit.0.count)
            total += value * unit.1
        }
        guard total > 0, total < 1e9 else { throw bad }
        return UInt32(total.rounded(.up))
    }
}

private extension String {
    func dropPrefix(caseInsensitive prefix: String) -> String? {
        guard lowercased().hasPrefix(prefix) else { return nil }
        return String(dropFirst(prefix.count))
    }
}
