import CMariaDB
import Foundation

/// An error from the MariaDB Connector/C or the server (`code` is the MySQL error number, e.g.
/// 1045 access denied, 2003 cannot connect), or a value that did not convert (`code` 0).
/// Messages come from the connector and the server; neither ever includes the password.
struct MySQLClientError: Error, Sendable, CustomStringConvertible {
    var code: UInt32
    var message: String
    var description: String { code == 0 ? message : "\(message) (MySQL error \(code))" }
}

/// One open connection through the MariaDB Connector/C (blocking calls; text protocol).
/// The connection is closed by `close()` or, at the latest, when the object goes away.
final class MySQLConnection {
    private var handle: UnsafeMutablePointer<MYSQL>?

    /// The connector must be initialised once, before threads race into `mysql_init`.
    private static let libraryReady: Bool = mysql_server_init(0, nil, nil) == 0

    /// Connects with the DSN's timeouts, TLS mode, and `utf8mb4` as the connection character set.
    init(_ dsn: MySQLDSN) throws(MySQLClientError) {
        guard Self.libraryReady, let handle = mysql_init(nil) else {
            throw MySQLClientError(code: 0, message: "the MariaDB client library could not be initialised (out of memory?)")
        }
        self.handle = handle
        do throws(MySQLClientError) {
            try Self.configure(handle, dsn)
            let connected: UnsafeMutablePointer<MYSQL>?
            switch dsn.endpoint {
            case .tcp(let host, let port):
                connected = mysql_real_connect(handle, host, dsn.user, dsn.password.revealed, dsn.database, UInt32(port), nil, 0)
            case .unixSocket(let path):
                connected = mysql_real_connect(handle, "localhost", dsn.user, dsn.password.revealed, dsn.database, 0, path, 0)
            }
            guard connected != nil else { throw lastError() }
            // The connector falls back to a plain connection when the server offers no TLS and the
            // certificate is not verified; tls=skip-verify means "TLS or nothing", so check.
            if dsn.tls == .verified || dsn.tls == .skipVerify, mysql_get_ssl_cipher(handle) == nil {
                throw MySQLClientError(code: UInt32(CR_SSL_CONNECTION_ERROR), message: "tls=\(dsn.tls.rawValue) requires TLS, but the server does not offer it")
            }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    func close() {
        if let handle {
            mysql_close(handle)
            self.handle = nil
        }
    }

    private static func configure(_ handle: UnsafeMutablePointer<MYSQL>, _ dsn: MySQLDSN) throws(MySQLClientError) {
        func set(_ option: mysql_option, _ value: UnsafeRawPointer?) throws(MySQLClientError) {
            guard mysql_options(handle, option, value) == 0 else {
                throw MySQLClientError(code: 0, message: "the MariaDB client library rejected option \(option.rawValue)")
            }
        }
        // String options are copied by the connector.
        func setText(_ option: mysql_option, _ text: String) throws(MySQLClientError) {
            guard text.withCString({ mysql_options(handle, option, $0) }) == 0 else {
                throw MySQLClientError(code: 0, message: "the MariaDB client library rejected option \(option.rawValue)")
            }
        }
        var connectTimeout = dsn.connectTimeout, readTimeout = dsn.readTimeout, writeTimeout = dsn.writeTimeout
        try set(MYSQL_OPT_CONNECT_TIMEOUT, &connectTimeout)
        try set(MYSQL_OPT_READ_TIMEOUT, &readTimeout)
        try set(MYSQL_OPT_WRITE_TIMEOUT, &writeTimeout)
        // tcp(localhost:3306) means TCP (the Go driver's meaning), not the connector's default socket.
        var protocolType: UInt32
        switch dsn.endpoint {
        case .tcp: protocolType = MYSQL_PROTOCOL_TCP.rawValue
        case .unixSocket: protocolType = MYSQL_PROTOCOL_SOCKET.rawValue
        }
        try set(MYSQL_OPT_PROTOCOL, &protocolType)
        try setText(MYSQL_SET_CHARSET_NAME, "utf8mb4")
        var no: my_bool = 0, yes: my_bool = 1
        try set(MYSQL_OPT_LOCAL_INFILE, &no)
        switch dsn.tls {
        case .disabled:
            break
        case .verified:
            try set(MYSQL_OPT_SSL_ENFORCE, &yes)
            try set(MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes)
        case .skipVerify:
            try set(MYSQL_OPT_SSL_ENFORCE, &yes)
            try set(MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &no)
        case .preferred:
            // Asking for TLS without enforcing it: used when the server offers it, plain otherwise.
            mysql_ssl_set(handle, nil, nil, nil, nil, nil)
            try set(MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &no)
        }
        if let ca = dsn.tlsCAFile {
            try setText(MYSQL_OPT_SSL_CA, ca)
        }
    }

    private func lastError() -> MySQLClientError {
        guard let handle else { return MySQLClientError(code: 0, message: "the connection is closed") }
        return MySQLClientError(code: mysql_errno(handle), message: String(cString: mysql_error(handle)))
    }

    /// Runs a statement and discards any result set.
    func execute(_ sql: String) throws(MySQLClientError) {
        _ = try query(sql)
    }

    /// Runs a statement and returns its whole result set (empty for statements without one).
    func query(_ sql: String) throws(MySQLClientError) -> MySQLResult {
        guard let handle else { throw lastError() }
        let status = sql.withCString { mysql_real_query(handle, $0, UInt(strlen($0))) }
        guard status == 0 else { throw lastError() }
        guard let result = mysql_store_result(handle) else {
            if mysql_field_count(handle) == 0 { return MySQLResult(columns: [], rows: []) }
            throw lastError()
        }
        defer { mysql_free_result(result) }
        let count = Int(mysql_num_fields(result))
        var columns: [String] = []
        if count > 0, let fields = mysql_fetch_fields(result) {
            columns = (0..<count).map { String(cString: fields[$0].name) }
        }
        var rows: [[String?]] = []
        rows.reserveCapacity(Int(mysql_num_rows(result)))
        while let row = mysql_fetch_row(result) {
            guard let lengths = mysql_fetch_lengths(result) else { break }
            rows.append((0..<count).map { i in
                row[i].map { String(decoding: UnsafeRawBufferPointer(start: $0, count: Int(lengths[i])), as: UTF8.self) }
            })
        }
        if mysql_errno(handle) != 0 { throw lastError() }
        return MySQLResult(columns: columns, rows: rows)
    }

    /// `text` as a quoted SQL string literal for this connection's character set.
    func quote(_ text: String) -> String {
        guard let handle else { return "''" }
        let bytes = Array(text.utf8)
        var out = [CChar](repeating: 0, count: bytes.count * 2 + 1)
        let length = bytes.withUnsafeBufferPointer { source in
            source.withMemoryRebound(to: CChar.self) { mysql_real_escape_string(handle, &out, $0.baseAddress, UInt(bytes.count)) }
        }
        return "'" + String(decoding: out[0..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self) + "'"
    }
}

/// A result set in the text protocol: column names and row values (`nil` = SQL NULL).
struct MySQLResult: Sendable {
    var columns: [String]
    var rows: [[String?]]

    /// The rows with their values looked up by column name (case-insensitive).
    var namedRows: [MySQLRow] {
        var index: [String: Int] = [:]
        for (i, name) in columns.enumerated() where index[name.lowercased()] == nil { index[name.lowercased()] = i }
        return rows.map { MySQLRow(values: $0, index: index) }
    }
}

struct MySQLRow: Sendable {
    var values: [String?]
    var index: [String: Int]

    /// The value of column `name`; `nil` for NULL. Throws if the result has no such column.
    func value(_ name: String) throws(MySQLClientError) -> String? {
        guard let i = index[name.lowercased()] else {
            throw MySQLClientError(code: 0, message: "the result has no column \(name)")
        }
        return values[i]
    }

    /// The text of column `name`; `nil` for NULL.
    func string(_ name: String) throws(MySQLClientError) -> String? {
        try value(name)
    }

    /// Column `name` as a 64-bit integer (whatever its integer type: SMALLINT, INT, BIGINT);
    /// `nil` for NULL. Throws if the value is not an integer that fits.
    func int64(_ name: String) throws(MySQLClientError) -> Int64? {
        guard let text = try value(name) else { return nil }
        guard let number = Int64(text) else {
            throw MySQLClientError(code: 0, message: "column \(name) holds '\(text.prefix(40))', not a 64-bit integer")
        }
        return number
    }
}
