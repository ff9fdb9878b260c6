import Foundation

/// Where the 1.x meta is read from: what `meta.mode` names (Config/ConfigMapping.swift) or what
/// `export -s/-m` names (`database(sqlite:mysql:)`).
public enum MetaSource: Sendable {
    /// A 1.x `meta.sqlite` file.
    case sqlite(path: String)
    /// A 1.x MySQL/MariaDB meta database.
    case mysql(MySQLDSN)
    /// A `meta.json` file (written by `export`, or the reference tool's mock/local file).
    case json(path: String)
    /// A `meta.json` stored as an object (`key`) in a bucket.
    case object(S3Client, key: String)

    /// The meta database of `export -s FILE` or `export -m DSN`: the SQLite file wins when both
    /// are given, as in the reference tool. A DSN that does not parse, or neither option, is a
    /// usage error naming the option.
    public static func database(sqlite: String?, mysql: String?) throws -> MetaSource {
        if let sqlite { return .sqlite(path: sqlite) }
        guard let mysql else {
            throw MigrationError.usage("export needs the 1.x meta: -s /path/to/meta.sqlite or -m user:password@tcp(host:port)/milvus")
        }
        do throws(MySQLDSN.ParseError) {
            return .mysql(try MySQLDSN(parsing: mysql))
        } catch {
            throw MigrationError.usage("-m: \(error.message)")
        }
    }
}

/// Reads the 1.x meta into the source model.
public enum MetaLoader {
    public static func load(_ source: MetaSource) async throws -> SourceMeta {
        switch source {
        case .sqlite(let path):
            return MetaAssembler.assemble(try SQLiteMetaReader(path: path).read())
        case .mysql(let dsn):
            return MetaAssembler.assemble(try MySQLMetaReader(dsn: dsn).read())
        case .json(let path):
            return try MetaJSON.read(path: path)
        case .object(let client, let key):
            guard let bytes = try await client.getObject(key) else {
                throw MigrationError.meta(source: client.display(key), message: "no such object (meta.remoteMetaFile is a key in the source bucket)")
            }
            return try MetaJSON.decode(Data(bytes), origin: client.display(key))
        }
    }
}

/// `export`: the 1.x meta database as `meta.json`.
public enum MetaExporter {
    /// Writes `<directory>/meta.json` atomically. Refuses (writing nothing) when the meta has errors.
    @discardableResult
    public static func export(_ meta: SourceMeta, to directory: String) throws -> String {
        if let first = meta.diagnostics.errors.first {
            throw MigrationError.meta(source: meta.origin, message: "\(meta.diagnostics.errors.count) problem(s), nothing exported. First: \(first.subject): \(first.message)")
        }
        let path = (directory as NSString).appendingPathComponent("meta.json")
        try AtomicFile.write(Array(MetaJSON.encode(meta).utf8), to: path)
        return path
    }
}
