import Foundation
import GRDB

/// Reads a Milvus 1.x `meta.sqlite` (0.9.x–1.1.x schemas) read-only, in one transaction, with
/// columns selected by name. SQLite replays `meta.sqlite-wal` beside the file when it can.
public struct SQLiteMetaReader: Sendable {
    public var path: String

    public init(path: String) {
        self.path = path
    }

    public func read() throws -> MetaSnapshot {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw MigrationError.meta(source: path, message: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw MigrationError.meta(source: path, message: "is a directory, expected the 1.x meta.sqlite file")
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            // A FIFO or device would block the open or never end.
            throw MigrationError.meta(source: path, message: "not a regular file, expected the 1.x meta.sqlite file")
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw MigrationError.meta(source: path, message: "permission denied")
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.label = "milvus1x-meta"
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            return try queue.read { db in try readSnapshot(db) }
        } catch let error as MigrationError {
            throw error
        } catch let error as DatabaseError {
            throw MigrationError.meta(source: path, message: describe(error))
        } catch {
            throw MigrationError.meta(source: path, message: "\(error)")
        }
    }

    private func readSnapshot(_ db: Database) throws -> MetaSnapshot {
        let names = try Set(String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
        let missing = ["Tables", "TableFiles"].filter { !names.contains($0) }
        guard missing.isEmpty else {
            throw MigrationError.meta(source: path, message: "this database holds no Milvus 1.x meta (missing table\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")))")
        }
        try requireColumns(db, table: "Tables", MetaSnapshot.tableColumns)
        try requireColumns(db, table: "TableFiles", MetaSnapshot.fileColumns)

        let tables = try Row.fetchAll(db, sql: "SELECT \(MetaSnapshot.tableColumns) FROM Tables ORDER BY id").enumerated().map { index, row in
            try MetaSnapshot.TableRow(try decoder(row, table: "Tables", position: index + 1))
        }
        let files = try Row.fetchAll(db, sql: "SELECT \(MetaSnapshot.fileColumns) FROM TableFiles ORDER BY id").enumerated().map { index, row in
            try MetaSnapshot.FileRow(try decoder(row, table: "TableFiles", position: index + 1))
        }
        let fieldRows = names.contains("Fields") ? try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM Fields") ?? 0 : 0
        return MetaSnapshot(tables: tables, files: files, fieldRows: fieldRows, origin: path)
    }

    /// Each cell by its SQLite storage class; GRDB's typed subscripts trap on a mismatch.
    private func decoder(_ row: Row, table: String, position: Int) throws -> MetaRowDecoder {
        try MetaRowDecoder(table: table, source: path, position: position) { column in
            let value: DatabaseValue = row[column]
            switch value.storage {
            case .null: return .null
            case .int64(let v): return .integer(v)
            case .double(let v): return .real(v)
            case .string(let v): return .text(v)
            case .blob(let data): return .blob(bytes: data.count)
            }
        }
    }

    private func requireColumns(_ db: Database, table: String, _ list: String) throws {
        let present = Set(try db.columns(in: table).map { $0.name.lowercased() })
        let wanted = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let missing = wanted.filter { !present.contains($0) }
        guard missing.isEmpty else {
            throw MigrationError.meta(source: path, message: "table \(table) lacks column\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")); not a Milvus 0.9–1.1 meta")
        }
    }

    private func describe(_ error: DatabaseError) -> String {
        let text = error.message ?? "\(error.resultCode)"
        switch error.resultCode.primaryResultCode {
        case .SQLITE_NOTADB:
            return "not a SQLite database (\(text))"
        case .SQLITE_CANTOPEN, .SQLITE_READONLY:
            return "cannot open (\(text)); a WAL-mode database on read-only media opens only when meta.sqlite-wal and meta.sqlite-shm exist beside it: copy all three files to a writable folder and point at the copy"
        case .SQLITE_CORRUPT:
            return "the database is corrupt (\(text))"
        default:
            return text
        }
    }
}
