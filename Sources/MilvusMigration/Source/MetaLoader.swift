import Foundation

/// Reads the 1.x meta the configuration points at (`meta.mode`) into the source model.
public enum MetaLoader {
    public static func load(_ config: MigrationConfig) async throws -> SourceMeta {
        switch config.meta.mode {
        case .sqlite:
            return MetaAssembler.assemble(try SQLiteMetaReader(path: config.meta.sqliteFile ?? "").read())
        case .mock, .local:
            return try MetaJSON.read(path: config.metaJSONFile ?? "")
        case .mysql:
            let dsn: MySQLDSN
            do throws(MySQLDSN.ParseError) {
                dsn = try MySQLDSN(parsing: config.meta.mysqlUrl?.revealed ?? "")
            } catch {
                throw MigrationError.config(file: config.file, key: "meta.mysqlUrl", message: error.message)
            }
            return MetaAssembler.assemble(try MySQLMetaReader(dsn: dsn).read())
        case .remote:
            // meta.remoteMetaFile is an object key in the source bucket (source.remote.*).
            let settings = try S3Settings.resolve(config.source.remote, file: config.file, base: "source.remote")
            let client = S3Client(settings: settings)
            let key = (config.meta.remoteMetaFile ?? "").split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
            guard let bytes = try await client.getObject(key) else {
                throw MigrationError.meta(source: client.display(key), message: "no such object (meta.remoteMetaFile is a key in the source bucket)")
            }
            return try MetaJSON.decode(Data(bytes), origin: client.display(key))
        }
    }

    /// The source storage (`source.mode`).
    public static func sourceStorage(_ config: MigrationConfig) throws -> any SourceStorage {
        switch config.source.mode {
        case .local:
            return LocalSourceStorage(root: config.source.tablesDir ?? "")
        case .remote:
            let r = config.source.remote
            let settings = try S3Settings.resolve(r, file: config.file, base: "source.remote")
            return S3SourceStorage(client: S3Client(settings: settings), tablesDir: r.prefix, checkBucket: r.checkBucket)
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
