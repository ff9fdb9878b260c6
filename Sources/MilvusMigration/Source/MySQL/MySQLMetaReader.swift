import CMariaDB
import Foundation

/// Reads a Milvus 1.x meta from MySQL/MariaDB (0.9.x–1.1.x schema, milvus1x-format.md §3.3) into
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

        let tables = try connection.query("SELECT \(MetaSnapshot.tableColumns) FROM \(quoted(tablesName)) ORDER BY id").namedRows.map { row in
            try tableRow(row)
        }
        let files = try connection.query("SELECT \(MetaSnapshot.fileColumns) FROM \(quoted(filesName)) ORDER BY id").namedRows.map { row in
            try fileRow(row)
        }
        var fieldRows = 0
        if let fieldsName = find("Fields") {
            let count = try connection.query("SELECT COUNT(*) AS n FROM \(quoted(fieldsName))").namedRows.first
            fieldRows = Int(try count?.int64("n") ?? 0)
        }
        return MetaSnapshot(tables: tables, files: files, fieldRows: fieldRows, origin: dsn.redacted)
    }

    private func tableRow(_ row: MySQLRow) throws -> MetaSnapshot.TableRow {
        let id = try required(row, "id", in: "Tables", rowId: nil)
        func int(_ name: String) throws -> Int64 { try required(row, name, in: "Tables", rowId: id) }
        func text(_ name: String) throws -> String { try requiredText(row, name, in: "Tables", rowId: id) }
        return MetaSnapshot.TableRow(
            id: id, tableId: try text("table_id"), state: try int("state"), dimension: try int("dimension"),
            createdOn: try int("created_on"), flag: try int("flag"), indexFileSize: try int("index_file_size"),
            engineType: try int("engine_type"), indexParams: try text("index_params"), metricType: try int("metric_type"),
            ownerTable: try text("owner_table"), partitionTag: try text("partition_tag"),
            version: try row.string("version") ?? "",
            flushLSN: try optional(row, "flush_lsn", in: "Tables", rowId: id) ?? 0)
    }

    private func fileRow(_ row: MySQLRow) throws -> MetaSnapshot.FileRow {
        let id = try required(row, "id", in: "TableFiles", rowId: nil)
        func int(_ name: String) throws -> Int64 { try required(row, name, in: "TableFiles", rowId: id) }
        func text(_ name: String) throws -> String { try requiredText(row, name, in: "TableFiles", rowId: id) }
        return MetaSnapshot.FileRow(
            id: id, tableId: try text("table_id"), segmentId: try text("segment_id"), engineType: try int("engine_type"),
            fileId: try text("file_id"), fileType: try int("file_type"), fileSize: try int("file_size"),
            rowCount: try int("row_count"), updatedTime: try int("updated_time"), createdOn: try int("created_on"),
            date: try optional(row, "date", in: "TableFiles", rowId: id) ?? -1,
            flushLSN: try optional(row, "flush_lsn", in: "TableFiles", rowId: id) ?? 0)
    }

    private func optional(_ row: MySQLRow, _ column: String, in table: String, rowId: Int64?) throws -> Int64? {
        do throws(MySQLClientError) {
            return try row.int64(column)
        } catch {
            throw MigrationError.meta(source: dsn.redacted, message: "\(table)\(rowId.map { " row id \($0)" } ?? ""): \(error.message)")
        }
    }

    private func required(_ row: MySQLRow, _ column: String, in table: String, rowId: Int64?) throws -> Int64 {
        guard let value = try optional(row, column, in: table, rowId: rowId) else {
            throw MigrationError.meta(source: dsn.redacted, message: "\(table)\(rowId.map { " row id \($0)" } ?? ""): column \(column) is NULL")
        }
        return value
    }

    private func requiredText(_ row: MySQLRow, _ column: String, in table: String, rowId: Int64) throws -> String {
        guard let value = try row.string(column) else {
            throw MigrationError.meta(source: dsn.redacted, message: "\(table) row id \(rowId): column \(column) is NULL")
        }
        return value
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
