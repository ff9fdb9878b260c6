import CMariaDB
import Foundation

/// Reads a Milvus 1.x meta from MySQL/MariaDB (0.9.x–1.1.x schema, docs/FORMAT.md §4.3) into
/// the same `MetaSnapshot` the SQLite reader makes from the same rows: the same SELECT lists by
/// column name, every numeric column as a 64-bit integer (MySQL's SMALLINT/INT/BIGINT alike), in
/// one consistent-snapshot, read-only transaction. Errors name the server address, never the password.
public struct MySQLMetaReader: Sendable {
    public var dsn: MySQLDSN

    public init(dsn: MySQLDSN) {
        self.dsn = dsn
    }

    public func read() throws -> MetaSnapshot {
        let connection: MySQLConnection
        do throws(MySQLClientError) {
            connection = try MySQLConnection(dsn)
        } catch {
            throw MigrationError.meta(source: dsn.redacted, message: describeConnectError(error))
        }
        defer { connection.close() }
        do {
            // A consistent snapshot needs REPEATABLE READ (a server may default to READ COMMITTED).
            try connection.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            try connection.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            let snapshot = try readSnapshot(connection)
            try connection.execute("COMMIT")
            return snapshot
        } catch let error as MigrationError {
            throw error
        } catch let error as MySQLClientError {
            throw MigrationError.meta(source: dsn.redacted, message: describeQueryError(error))
        }
    }

    private func readSnapshot(_ connection: MySQLConnection) throws -> MetaSnapshot {
        // Table names as stored (lower case on servers with lower_case_table_names=1).
        let stored = try connection.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
            .rows.compactMap { $0.first ?? nil }
        func find(_ name: String) -> String? {
            stored.first { $0 == name } ?? stored.first { $0.lowercased() == name.lowercased() }
        }
        let missing = ["Tables", "TableFiles"].filter { find($0) == nil }
        guard missing.isEmpty, let tablesName = find("Tables"), let filesName = find("TableFiles") else {
            throw MigrationError.meta(source: dsn.redacted, message: "this database holds no Milvus 1.x meta (missing table\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")))")
        }
        try requireColumns(connection, table: tablesName, shownAs: "Tables", MetaSnapshot.tableColumns)
        try requireColumns(connection, table: filesName, shownAs: "TableFiles", MetaSnapshot.fileColumns)

        let tables = try connection.query("SELECT \(MetaSnapshot.tableColumns) FROM \(quoted(tablesName)) ORDER BY id").namedRows
            .enumerated().map { index, row in try MetaSnapshot.TableRow(try decoder(row, table: "Tables", position: index + 1)) }
        let files = try connection.query("SELECT \(MetaSnapshot.fileColumns) FROM \(quoted(filesName)) ORDER BY id").namedRows
            .enumerated().map { index, row in try MetaSnapshot.FileRow(try decoder(row, table: "TableFiles", position: index + 1)) }
        var fieldRows = 0
        if let fieldsName = find("Fields") {
            let count = try connection.query("SELECT COUNT(*) AS n FROM \(quoted(fieldsName))").namedRows.first
            fieldRows = Int(try count?.int64("n") ?? 0)
        }
        return MetaSnapshot(tables: tables, files: files, fieldRows: fieldRows, origin: dsn.redacted)
    }

    /// The text protocol gives every value as text (or NULL); the shared decoder checks it.
    private func decoder(_ row: MySQLRow, table: String, position: Int) throws -> MetaRowDecoder {
        let source = dsn.redacted
        return try MetaRowDecoder(table: table, source: source, position: position) { column in
            do throws(MySQLClientError) {
                return try row.string(column).map(MetaCell.text) ?? .null
            } catch {
                throw MigrationError.meta(source: source, message: "table \(table): \(error.message)")
            }
        }
    }

    private func requireColumns(_ connection: MySQLConnection, table: String, shownAs: String, _ list: String) throws {
        let present = Set(try connection.query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = \(connection.quote(table))")
            .rows.compactMap { $0.first ?? nil }.map { $0.lowercased() })
        let wanted = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let missing = wanted.filter { !present.contains($0) }
        guard missing.isEmpty else {
            throw MigrationError.meta(source: dsn.redacted, message: "table \(shownAs) lacks column\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")); not a Milvus 0.9–1.1 meta")
        }
    }

    private func quoted(_ identifier: String) -> String {
        "`" + identifier.replacingOccurrences(of: "`", with: "``") + "`"
    }

    private func describeConnectError(_ error: MySQLClientError) -> String {
        switch Int32(error.code) {
        case CR_CONN_HOST_ERROR, CR_CONNECTION_ERROR, CR_UNKNOWN_HOST, CR_SERVER_LOST, CR_SERVER_GONE_ERROR, CR_IPSOCK_ERROR, CR_SOCKET_CREATE_ERROR:
            return "cannot reach the MySQL server: \(error); check the host and port (or socket path), that the server runs, and that this machine may connect to it"
        case ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
            return "the MySQL server refused the login: \(error); check the user and password in the DSN"
        case ER_BAD_DB_ERROR:
            return "the MySQL server has no database '\(dsn.database)': \(error); the DSN must name the database Milvus 1.x used (its server_config.yaml meta_uri, e.g. /milvus)"
        case ER_DBACCESS_DENIED_ERROR:
            return "the MySQL user may not use database '\(dsn.database)': \(error); grant it SELECT on that database"
        case CR_SSL_CONNECTION_ERROR:
            return "the TLS handshake with the MySQL server failed: \(error); check the tls parameter of the DSN (true, skip-verify, preferred, false) and tlsCA"
        default:
            return "cannot connect to the MySQL server: \(error)"
        }
    }

    private func describeQueryError(_ error: MySQLClientError) -> String {
        switch Int32(error.code) {
        case CR_SERVER_LOST, CR_SERVER_GONE_ERROR:
            return "the MySQL server closed the connection while the meta was read: \(error); a timeout (readTimeout in the DSN) or a server restart"
        case ER_TABLEACCESS_DENIED_ERROR, ER_COLUMNACCESS_DENIED_ERROR:
            return "the MySQL user may not read the meta tables: \(error); grant it SELECT on the database"
        default:
            return "reading the meta failed: \(error)"
        }
    }
}
