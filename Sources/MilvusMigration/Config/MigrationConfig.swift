import Foundation

/// `migration.yaml`: the reference tool's keys (zilliztech/milvus-migration, work mode
/// `milvus1x`), read case-insensitively, plus this tool's additions. See README "Configuration".
public struct MigrationConfig: Sendable {
    public enum WorkMode: String, Sendable, CaseIterable { case milvus1x, faiss, elasticsearch, milvus2x }
    public enum MetaMode: String, Sendable, CaseIterable { case sqlite, mysql, mock, local, remote }
    public enum StorageMode: String, Sendable, CaseIterable { case local, remote }
    /// The `cloud` key: the provider enum of Storage/S3.
    public typealias Cloud = ObjectStorageProvider
    /// The `onExisting` key: the policy enum of Target/.
    public typealias OnExisting = MilvusMigration.OnExisting

    public struct Dumper: Sendable {
        public var workMode: WorkMode = .milvus1x
        /// Segments dumped at once (sliding window).
        public var limit: Int = 2
        /// Read chunk in KB.
        public var readerBufferKB: Int = 1024
        /// `dumper.worker.groupMB`: consecutive segments of a partition smaller than this are
        /// staged as one NumPy pair (one import) of at most this size; 0 turns grouping off.
        public var groupMB: Int = MigrationConfig.defaultGroupMB
        /// Write buffer in KB (the reference tool allocates but never uses it).
        public var writerBufferKB: Int = 1024
        /// Shard count of a sharded job (`dumper.worker.shards`); the index comes from `--shard`
        /// or `JOB_COMPLETION_INDEX`.
        public var shards: Int?
        /// fsync every staged file (`dumper.worker.fsync`); off by default: the journal's boot id
        /// makes a run after a crash check the files instead.
        public var fsync = false
    }

    public typealias LoaderMode = LoadMode

    public struct Loader: Sendable {
        public var mode: LoaderMode = .import
        /// Insert mode: the largest `Insert` request, in MB (`loader.insert.batchMB`).
        public var insertBatchMB: Int = 16
        /// Import jobs (insert mode: segments) in flight at once (sliding window).
        public var limit: Int = 2
        /// Seconds one import job may take before it is reported as timed out.
        public var importTimeout: Double = 3600
    }

    public struct Meta: Sendable {
        public var mode: MetaMode = .sqlite
        public var localFile: String?
        public var mockFile: String?
        public var remoteMetaFile: String?
        public var sqliteFile: String?
        public var mysqlUrl: Secret?
    }

    /// S3-compatible storage keys shared by `source.remote` and `target.remote`.
    public struct RemoteStorage: Sendable {
        public var cloud: Cloud = .aws
        public var endpoint: String?
        public var region: String?
        public var bucket: String?
        public var accessKey: Secret?
        public var secretKey: Secret?
        public var useSSL = false
        public var useIAM = false
        public var checkBucket = false
        public var createBucket = false
        /// `source.remote.tablesDir` or `target.remote.outputDir`.
        public var prefix: String?
        /// This tool's additions: multipart part size in MiB (≥ 5), parts of one file in flight,
        /// retries per request, and whether bodies are signed (default: over plain HTTP only).
        public var partSizeMB: Int?
        public var uploadConcurrency: Int?
        public var maxRetries: Int?
        public var signPayload: Bool?
    }

    public struct Source: Sendable {
        public var mode: StorageMode = .local
        public var tablesDir: String?
        public var remote = RemoteStorage()
    }

    public struct Milvus2x: Sendable {
        public var endpoint: String?
        public var username: String?
        public var password: Secret?
        /// An API key or `user:password` (Zilliz Cloud, Milvus with authentication).
        public var token: Secret?
        public var database: String?
        public var tlsCAFile: String?
        public var tlsCertFile: String?
        public var tlsKeyFile: String?
        public var tlsServerName: String?
        public var idField = "id"
        public var vectorField = "data"
        public var collections: [String: String] = [:]
        public var onExisting: OnExisting = .fail
        public var shardsNum = 0
        public var createIndex = false
        public var loadCollection = false
        public var maxCallRecvMsgSize = 0
        public var maxCallSendMsgSize = 0
    }

    public struct Target: Sendable {
        public var mode: StorageMode = .local
        public var outputDir: String?
        public var remote = RemoteStorage()
        public var milvus2x = Milvus2x()
        /// Remove a segment's staged files once imported and counted (`target.cleanup`).
        public var cleanup = false
    }

    /// The file the configuration came from.
    public var file: String
    public var dumper = Dumper()
    public var loader = Loader()
    public var meta = Meta()
    public var source = Source()
    public var target = Target()
    /// The keys given in the file (lower-case paths), to tell "missing" from "defaulted".
    public var presentKeys: Set<String> = []

    public init(file: String) {
        self.file = file
    }
}

extension MigrationConfig {
    /// What a command needs from the configuration; `validate` checks exactly these parts.
    public struct Needs: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let meta = Needs(rawValue: 1)
        public static let source = Needs(rawValue: 2)
        public static let target = Needs(rawValue: 4)
        public static let milvus = Needs(rawValue: 8)
    }

    /// The default locations: `./migration.yaml`, then `./configs/migration.yaml`.
    public static func locate(_ explicit: String?, in directory: String = FileManager.default.currentDirectoryPath) throws -> String {
        if let explicit { return explicit }
        for candidate in ["migration.yaml", "configs/migration.yaml"] {
            let path = (directory as NSString).appendingPathComponent(candidate)
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw MigrationError.usage("no configuration file: pass --config FILE, or put migration.yaml in the current folder or in ./configs/")
    }

    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MigrationConfig {
        return try parse(try readText(path), file: path, environment: environment)
    }

    /// The largest `migration.yaml` read (a real one is a few KB).
    public static let maxFileBytes = 1 << 20
    /// `dumper.worker.groupMB` when absent.
    public static let defaultGroupMB = 256

    /// The file's text: a regular file (a FIFO or device would block or never end), at most
    /// `maxFileBytes`, UTF-8.
    static func readText(_ path: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw MigrationError.config(file: path, key: "", message: "cannot read the file (\(errnoText()))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            let what = (info.st_mode & S_IFMT) == S_IFDIR ? "a folder" : "not a regular file"
            throw MigrationError.config(file: path, key: "", message: "cannot read the file (it is \(what))")
        }
        guard info.st_size <= maxFileBytes else {
            throw MigrationError.config(file: path, key: "", message: "the file is \(info.st_size) bytes; a migration.yaml is at most \(maxFileBytes / 1024 / 1024) MiB")
        }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw MigrationError.config(file: path, key: "", message: "cannot read the file (\(errnoText()))")
        }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: maxFileBytes + 1)
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw MigrationError.config(file: path, key: "", message: "cannot read the file (\(errnoText()))")
            }
            if n == 0 { break }
            filled += n
        }
        guard filled <= maxFileBytes else {
            throw MigrationError.config(file: path, key: "", message: "the file is larger than \(maxFileBytes / 1024 / 1024) MiB; a migration.yaml is at most that")
        }
        guard let text = String(validating: bytes[0..<filled], as: UTF8.self) else {
            throw MigrationError.config(file: path, key: "", message: "the file is not UTF-8 text")
        }
        return text
    }

    public static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws -> MigrationConfig {
        let doc = try ConfigDocument(file: file, text: text, environment: environment)
        let unknown = doc.unknownKeys(known: knownKeys, ignoredPrefixes: ignoredPrefixes)
        if let first = unknown.first {
            throw MigrationError.config(file: file, key: first, message: "unknown key\(unknown.count > 1 ? " (also unknown: \(unknown.dropFirst().joined(separator: ", ")))" : ""); see the README for the accepted keys")
        }
        var c = MigrationConfig(file: file)
        if let mode = try doc.choice("dumper.worker.workmode", "dumper.worker.workMode", WorkMode.self) { c.dumper.workMode = mode }
        c.dumper.limit = try doc.int("dumper.worker.limit", "dumper.worker.limit", range: 0...1024).flatMap { $0 > 0 ? $0 : nil } ?? 2
        c.dumper.groupMB = try doc.int("dumper.worker.groupmb", "dumper.worker.groupMB", range: 0...65_536) ?? MigrationConfig.defaultGroupMB
        c.dumper.readerBufferKB = try doc.int("dumper.worker.reader.buffersize", "dumper.worker.reader.bufferSize", range: 0...1_048_576).flatMap { $0 > 0 ? $0 : nil } ?? 1024
        c.dumper.writerBufferKB = try doc.int("dumper.worker.writer.buffersize", "dumper.worker.writer.bufferSize", range: 0...1_073_741_824).flatMap { $0 > 0 ? $0 : nil } ?? 1024
        c.dumper.shards = try doc.int("dumper.worker.shards", "dumper.worker.shards", range: 1...100_000)
        c.dumper.fsync = try doc.bool("dumper.worker.fsync", "dumper.worker.fsync") ?? false
        c.loader.limit = try doc.int("loader.worker.limit", "loader.worker.limit", range: 0...1024).flatMap { $0 > 0 ? $0 : nil } ?? 2
        c.loader.importTimeout = try doc.double("loader.worker.importtimeout", "loader.worker.importTimeout") ?? 3600
        if let mode = try doc.choice("loader.mode", "loader.mode", LoaderMode.self) { c.loader.mode = mode }
        // Well below the gRPC message limits of Milvus (64 MB) and of this client.
        c.loader.insertBatchMB = try doc.int("loader.insert.batchmb", "loader.insert.batchMB", range: 1...48) ?? 16

        if let mode = try doc.choice("meta.mode", "meta.mode", MetaMode.self) { c.meta.mode = mode }
        c.meta.localFile = doc.string("meta.localfile", "meta.localFile")
        c.meta.mockFile = doc.string("meta.mockfile", "meta.mockFile")
        c.meta.remoteMetaFile = doc.string("meta.remotemetafile", "meta.remoteMetaFile")
        c.meta.sqliteFile = doc.string("meta.sqlitefile", "meta.sqliteFile")
        c.meta.mysqlUrl = doc.string("meta.mysqlurl", "meta.mysqlUrl").map(Secret.init)

        if let mode = try doc.choice("source.mode", "source.mode", StorageMode.self) { c.source.mode = mode }
        c.source.tablesDir = doc.string("source.local.tablesdir", "source.local.tablesDir")
        c.source.remote = try remote(doc, "source.remote", prefixKey: "tablesDir")

        if let mode = try doc.choice("target.mode", "target.mode", StorageMode.self) { c.target.mode = mode }
        c.target.outputDir = doc.string("target.local.outputdir", "target.local.outputDir")
        c.target.remote = try remote(doc, "target.remote", prefixKey: "outputDir")
        c.target.cleanup = try doc.bool("target.cleanup", "target.cleanup") ?? false

        var m = Milvus2x()
        m.endpoint = doc.string("target.milvus2x.endpoint", "target.milvus2x.endpoint")
        m.username = doc.string("target.milvus2x.username", "target.milvus2x.username")
        m.password = doc.string("target.milvus2x.password", "target.milvus2x.password").map(Secret.init)
        m.token = doc.string("target.milvus2x.token", "target.milvus2x.token").map(Secret.init)
        m.database = doc.string("target.milvus2x.database", "target.milvus2x.database")
        m.tlsCAFile = doc.string("target.milvus2x.tls.cafile", "target.milvus2x.tls.caFile")
        m.tlsCertFile = doc.string("target.milvus2x.tls.certfile", "target.milvus2x.tls.certFile")
        m.tlsKeyFile = doc.string("target.milvus2x.tls.keyfile", "target.milvus2x.tls.keyFile")
        m.tlsServerName = doc.string("target.milvus2x.tls.servername", "target.milvus2x.tls.serverName")
        m.idField = doc.string("target.milvus2x.idfield", "target.milvus2x.idField") ?? "id"
        m.vectorField = doc.string("target.milvus2x.vectorfield", "target.milvus2x.vectorField") ?? "data"
        for (key, canonical, value) in [("target.milvus2x.idfield", "target.milvus2x.idField", m.idField),
                                        ("target.milvus2x.vectorfield", "target.milvus2x.vectorField", m.vectorField)]
        where !NameRules.isValidCollectionName(value) {
            throw MigrationError.config(file: file, key: doc.displayKey(key, canonical: canonical), message: "'\(value)' is not a valid 2.x field name")
        }
        if m.idField == m.vectorField {
            throw MigrationError.config(file: file, key: "target.milvus2x.vectorField", message: "must differ from target.milvus2x.idField ('\(m.idField)')")
        }
        for (from, to) in doc.map("target.milvus2x.collections") ?? [] {
            guard NameRules.isValidCollectionName(to) else {
                throw MigrationError.config(file: file, key: "target.milvus2x.collections.\(from)", message: "'\(to)' is not a valid 2.x collection name")
            }
            m.collections[from] = to
        }
        if let policy = try doc.choice("target.milvus2x.onexisting", "target.milvus2x.onExisting", OnExisting.self) { m.onExisting = policy }
        m.shardsNum = try doc.int("target.milvus2x.shardsnum", "target.milvus2x.shardsNum", range: 0...16) ?? 0
        m.createIndex = try doc.bool("target.milvus2x.createindex", "target.milvus2x.createIndex") ?? false
        m.loadCollection = try doc.bool("target.milvus2x.loadcollection", "target.milvus2x.loadCollection") ?? false
        m.maxCallRecvMsgSize = try doc.int("target.milvus2x.grpc.maxcallrecvmsgsize", "target.milvus2x.grpc.maxCallRecvMsgSize", range: 0...Int(Int32.max)) ?? 0
        m.maxCallSendMsgSize = try doc.int("target.milvus2x.grpc.maxcallsendmsgsize", "target.milvus2x.grpc.maxCallSendMsgSize", range: 0...Int(Int32.max)) ?? 0
        c.target.milvus2x = m
        // An Insert request of batchMB must fit the client's own send limit (with 1 MiB for the
        // request's framing), or every request would fail before it is sent.
        if c.loader.mode == .insert, m.maxCallSendMsgSize > 0, (c.loader.insertBatchMB + 1) << 20 > m.maxCallSendMsgSize {
            throw MigrationError.config(file: file, key: doc.displayKey("loader.insert.batchmb", canonical: "loader.insert.batchMB"),
                                        message: "\(c.loader.insertBatchMB) MB Insert requests do not fit target.milvus2x.grpc.maxCallSendMsgSize (\(m.maxCallSendMsgSize) bytes); lower batchMB to at most \(max(0, (m.maxCallSendMsgSize >> 20) - 1)) or raise the limit")
        }

        // Required in every config, as in the reference tool.
        guard doc.has("dumper.worker.workmode") else {
            throw MigrationError.config(file: file, key: "dumper.worker.workMode", message: "missing; set it to milvus1x")
        }
        guard c.dumper.workMode == .milvus1x else {
            throw MigrationError.config(file: file, key: doc.displayKey("dumper.worker.workmode", canonical: "dumper.worker.workMode"), message: "work mode '\(c.dumper.workMode.rawValue)' is not supported by this tool; it migrates Milvus 1.x only (milvus1x)")
        }
        c.presentKeys = Set(doc.entriesKeys)
        return c
    }

    private static func remote(_ doc: ConfigDocument, _ base: String, prefixKey: String) throws -> RemoteStorage {
        var r = RemoteStorage()
        if let cloud = try doc.choice("\(base).cloud", "\(base).cloud", Cloud.self) { r.cloud = cloud == .az ? .azure : cloud }
        r.endpoint = doc.string("\(base).endpoint", "\(base).endpoint")
        r.region = doc.string("\(base).region", "\(base).region")
        r.bucket = doc.string("\(base).bucket", "\(base).bucket")
        r.accessKey = doc.string("\(base).ak", "\(base).ak").map(Secret.init)
        r.secretKey = doc.string("\(base).sk", "\(base).sk").map(Secret.init)
        r.useSSL = try doc.bool("\(base).usessl", "\(base).useSSL") ?? false
        r.useIAM = try doc.bool("\(base).useiam", "\(base).useIAM") ?? false
        r.checkBucket = try doc.bool("\(base).checkbucket", "\(base).checkBucket") ?? false
        r.createBucket = try doc.bool("\(base).createbucket", "\(base).createBucket") ?? false
        r.prefix = doc.string("\(base).\(prefixKey.lowercased())", "\(base).\(prefixKey)")
        r.partSizeMB = try doc.int("\(base).partsizemb", "\(base).partSizeMB", range: 5...5120)
        r.uploadConcurrency = try doc.int("\(base).uploadconcurrency", "\(base).uploadConcurrency", range: 1...64)
        r.maxRetries = try doc.int("\(base).maxretries", "\(base).maxRetries", range: 0...20)
        r.signPayload = try doc.bool("\(base).signpayload", "\(base).signPayload")
        return r
    }

    /// Every key this tool reads (lower-case dotted paths).
    static let knownKeys: Set<String> = {
        var keys: Set<String> = [
            "dumper.worker.workmode", "dumper.worker.limit", "dumper.worker.shards", "dumper.worker.reader.buffersize", "dumper.worker.writer.buffersize",
            "dumper.worker.groupmb", "dumper.worker.fsync", "target.cleanup",
            "loader.worker.limit", "loader.worker.importtimeout", "loader.mode", "loader.insert.batchmb",
            "meta.mode", "meta.localfile", "meta.mockfile", "meta.remotemetafile", "meta.sqlitefile", "meta.mysqlurl",
            "source.mode", "source.local.tablesdir", "source.remote.tablesdir",
            "target.mode", "target.local.outputdir", "target.remote.outputdir",
            "target.milvus2x.endpoint", "target.milvus2x.username", "target.milvus2x.password", "target.milvus2x.token", "target.milvus2x.database",
            "target.milvus2x.tls.cafile", "target.milvus2x.tls.certfile", "target.milvus2x.tls.keyfile", "target.milvus2x.tls.servername",
            "target.milvus2x.idfield", "target.milvus2x.vectorfield", "target.milvus2x.collections", "target.milvus2x.onexisting",
            "target.milvus2x.shardsnum", "target.milvus2x.createindex", "target.milvus2x.loadcollection",
            "target.milvus2x.grpc.maxcallrecvmsgsize", "target.milvus2x.grpc.maxcallsendmsgsize",
        ]
        for base in ["source.remote", "target.remote"] {
            for key in ["cloud", "endpoint", "region", "bucket", "ak", "sk", "usessl", "useiam", "checkbucket", "createbucket",
                        "partsizemb", "uploadconcurrency", "maxretries", "signpayload"] {
                keys.insert("\(base).\(key)")
            }
        }
        return keys
    }()

    /// Keys the reference tool reads only in its other work modes: accepted and ignored.
    static let ignoredPrefixes = ["meta.milvus.", "target.create.", "target.milvus2x.writemode", "source.es.", "source.milvus2x.", "source.faiss.", "meta.es."]
}

extension ConfigDocument {
    var entriesKeys: [String] { Array(entries.keys) }
}

extension MigrationConfig {
    /// Checks, before any work starts, that every key the command needs is present and points at
    /// something usable. The error names the key path.
    public func validate(_ needs: Needs) throws {
        func missing(_ key: String, _ why: String) -> MigrationError {
            .config(file: file, key: key, message: "missing; \(why)")
        }
        /// A readable regular file with a PEM block (checked before connecting; a FIFO is refused
        /// without being opened). The contents are never shown: a key file is a secret.
        func requirePEMFile(_ path: String, key: String) throws {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
                throw MigrationError.config(file: file, key: key, message: "'\(path)' does not exist")
            }
            guard attributes[.type] as? FileAttributeType == .typeRegular else {
                throw MigrationError.config(file: file, key: key, message: "'\(path)' is not a regular file")
            }
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw MigrationError.config(file: file, key: key, message: "'\(path)' cannot be read (permissions?)")
            }
            defer { try? handle.close() }
            let head = (try? handle.read(upToCount: 1 << 20)) ?? Data()
            guard head.range(of: Data("-----BEGIN ".utf8)) != nil else {
                throw MigrationError.config(file: file, key: key, message: "'\(path)' is not a PEM file (no -----BEGIN line); convert it with openssl (DER: openssl x509 -inform der -in FILE -out FILE.pem)")
            }
        }
        func requireDirectory(_ path: String, key: String) throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw MigrationError.config(file: file, key: key, message: "'\(path)' does not exist")
            }
            guard isDirectory.boolValue else {
                throw MigrationError.config(file: file, key: key, message: "'\(path)' is not a folder")
            }
        }
        func requireFile(_ path: String, key: String) throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw MigrationError.config(file: file, key: key, message: "'\(path)' does not exist")
            }
            guard !isDirectory.boolValue else {
                throw MigrationError.config(file: file, key: key, message: "'\(path)' is a folder, expected a file")
            }
        }
        func requireBucket(_ r: RemoteStorage, _ base: String) throws {
            guard r.bucket != nil else { throw missing("\(base).bucket", "\(base) needs a bucket") }
            if r.cloud == .azure {
                throw MigrationError.config(file: file, key: "\(base).cloud", message: "azure is not supported yet")
            }
            if r.cloud == .minio && r.endpoint == nil {
                throw missing("\(base).endpoint", "cloud minio needs an endpoint (host:port)")
            }
        }

        if needs.contains(.meta) {
            guard presentKeys.contains("meta.mode") else { throw missing("meta.mode", "one of sqlite, mysql, mock, local, remote") }
            switch meta.mode {
            case .sqlite:
                guard let path = meta.sqliteFile else { throw missing("meta.sqliteFile", "meta.mode sqlite reads the 1.x meta.sqlite named here") }
                try requireFile(path, key: "meta.sqliteFile")
            case .mysql:
                guard let url = meta.mysqlUrl else { throw missing("meta.mysqlUrl", "meta.mode mysql needs user:password@tcp(host:port)/database") }
                do throws(MySQLDSN.ParseError) {
                    _ = try MySQLDSN(parsing: url.revealed)
                } catch {
                    throw MigrationError.config(file: file, key: "meta.mysqlUrl", message: error.message)
                }
            case .mock:
                guard let path = meta.mockFile else { throw missing("meta.mockFile", "meta.mode mock reads the meta.json named here") }
                try requireFile(path, key: "meta.mockFile")
            case .local:
                guard let path = meta.localFile ?? meta.mockFile else { throw missing("meta.localFile", "meta.mode local reads the meta.json named here") }
                try requireFile(path, key: meta.localFile != nil ? "meta.localFile" : "meta.mockFile")
            case .remote:
                guard meta.remoteMetaFile != nil else { throw missing("meta.remoteMetaFile", "meta.mode remote reads this meta.json object from the source bucket") }
                try requireBucket(source.remote, "source.remote")
            }
        }
        if needs.contains(.source) {
            guard presentKeys.contains("source.mode") else { throw missing("source.mode", "local or remote") }
            switch source.mode {
            case .local:
                guard let dir = source.tablesDir else { throw missing("source.local.tablesDir", "the 1.x tables/ folder") }
                try requireDirectory(dir, key: "source.local.tablesDir")
            case .remote:
                try requireBucket(source.remote, "source.remote")
            }
        }
        if needs.contains(.target) {
            guard presentKeys.contains("target.mode") else { throw missing("target.mode", "local or remote") }
            switch target.mode {
            case .local:
                guard target.outputDir != nil else { throw missing("target.local.outputDir", "the folder the NumPy files go to") }
            case .remote:
                try requireBucket(target.remote, "target.remote")
            }
        }
        if needs.contains(.milvus) {
            guard let endpoint = target.milvus2x.endpoint else { throw missing("target.milvus2x.endpoint", "host:port of the Milvus 2.x server") }
            _ = endpoint
            if target.milvus2x.token != nil && (target.milvus2x.username != nil || target.milvus2x.password != nil) {
                throw MigrationError.config(file: file, key: "target.milvus2x.token",
                                            message: "set either a token or username and password, not both (a token may itself be user:password)")
            }
            if (target.milvus2x.tlsCertFile == nil) != (target.milvus2x.tlsKeyFile == nil) {
                throw MigrationError.config(file: file, key: "target.milvus2x.tls.certFile", message: "tls.certFile and tls.keyFile go together")
            }
            for (key, path) in [("target.milvus2x.tls.caFile", target.milvus2x.tlsCAFile),
                                ("target.milvus2x.tls.certFile", target.milvus2x.tlsCertFile),
                                ("target.milvus2x.tls.keyFile", target.milvus2x.tlsKeyFile)] {
                if let path { try requirePEMFile(path, key: key) }
            }
        }
    }

    /// The meta.json a `mock`/`local` meta mode reads.
    public var metaJSONFile: String? { meta.mode == .local ? (meta.localFile ?? meta.mockFile) : meta.mockFile }
}
