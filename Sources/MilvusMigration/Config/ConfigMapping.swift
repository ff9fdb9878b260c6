import Foundation
import Logging

// Config is the outermost layer of the library: it reads `migration.yaml` (`MigrationConfig`) and
// maps it, here and only here, onto the options and settings of the other folders, which never
// see `MigrationConfig` (ArchitectureTests checks it). Errors name the config file and key.

extension MigrationConfig {
    /// Where the 1.x meta is read from (`meta.mode` and its keys).
    public func metaSource() throws -> MetaSource {
        switch meta.mode {
        case .sqlite:
            return .sqlite(path: meta.sqliteFile ?? "")
        case .mock, .local:
            return .json(path: metaJSONFile ?? "")
        case .mysql:
            do throws(MySQLDSN.ParseError) {
                return .mysql(try MySQLDSN(parsing: meta.mysqlUrl?.revealed ?? ""))
            } catch {
                throw MigrationError.config(file: file, key: "meta.mysqlUrl", message: error.message)
            }
        case .remote:
            // meta.remoteMetaFile is an object key in the source bucket (source.remote.*).
            let settings = try S3Settings.resolve(source.remote, file: file, base: "source.remote")
            let key = (meta.remoteMetaFile ?? "").split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
            return .object(S3Client(settings: settings), key: key)
        }
    }

    /// The 1.x meta the configuration points at, read into the source model.
    public func sourceMeta() async throws -> SourceMeta {
        try await MetaLoader.load(try metaSource())
    }

    /// The storage of the 1.x `tables/` folder (`source.mode`).
    public func sourceStorage() throws -> any SourceStorage {
        switch source.mode {
        case .local:
            return LocalSourceStorage(root: source.tablesDir ?? "")
        case .remote:
            let r = source.remote
            let settings = try S3Settings.resolve(r, file: file, base: "source.remote")
            return S3SourceStorage(client: S3Client(settings: settings), tablesDir: r.prefix, checkBucket: r.checkBucket)
        }
    }

    /// The staging area (`target.mode`): `<outputDir>/migration` in a local folder or under a key
    /// prefix in a bucket. No network here: `prepare()` checks the bucket.
    public func stagingArea() throws -> any StagingArea {
        switch target.mode {
        case .local:
            let output = target.outputDir ?? "."
            let absolute = output.hasPrefix("/") ? output : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(output)
            return LocalStagingArea(root: (absolute as NSString).appendingPathComponent("migration"), syncFiles: dumper.fsync)
        case .remote:
            // dumper.worker.fsync does not apply: an object exists only once its PUT (or
            // CompleteMultipartUpload) succeeded, and S3 answers only once it is stored durably.
            let r = target.remote
            let settings = try S3Settings.resolve(r, file: file, base: "target.remote")
            return S3StagingArea(client: S3Client(settings: settings), outputDir: r.prefix,
                                 checkBucket: r.checkBucket, createBucket: r.createBucket)
        }
    }

    /// The connection to Milvus 2.x (`target.milvus2x.*`). `createsDatabase`: whether a missing
    /// database is created (load, start) or is an error (verify).
    public func milvusOptions(createsDatabase: Bool = true) throws -> MilvusClient.Options {
        let m = target.milvus2x
        var endpoint: MilvusEndpoint
        do {
            endpoint = try MilvusEndpoint(parsing: m.endpoint ?? "")
        } catch MigrationError.config(_, let key, let message) {
            throw MigrationError.config(file: file, key: key, message: message)
        }
        let database = m.database ?? endpoint.database
        // Any tls.* key turns TLS on (as does https://); http:// next to one is a contradiction.
        let tlsKeys = [("caFile", m.tlsCAFile), ("certFile", m.tlsCertFile), ("keyFile", m.tlsKeyFile), ("serverName", m.tlsServerName)]
        if let (key, _) = tlsKeys.first(where: { $0.1 != nil }) {
            if endpoint.explicitPlaintext {
                throw MigrationError.config(file: file, key: "target.milvus2x.endpoint",
                                            message: "'\(m.endpoint ?? "")' asks for a plain connection, but target.milvus2x.tls.\(key) asks for TLS; write https://host:port (or host:port) for TLS, or remove the tls keys")
            }
            endpoint.tls = true
        }
        var o = MilvusClient.Options(endpoint: endpoint)
        o.username = m.username
        o.password = m.password
        o.token = m.token
        o.database = database
        o.caFile = m.tlsCAFile
        o.certFile = m.tlsCertFile
        o.keyFile = m.tlsKeyFile
        o.serverName = m.tlsServerName
        if m.maxCallRecvMsgSize > 0 { o.maxReceiveBytes = m.maxCallRecvMsgSize }
        if m.maxCallSendMsgSize > 0 { o.maxSendBytes = m.maxCallSendMsgSize }
        o.createsDatabase = createsDatabase
        return o
    }

    /// `verify`'s options: the command's flags plus the field names and the timeout of the config.
    ///
    /// `MILVUS_MIGRATION_VERIFY_QUERY` (benchmarks, tuning) overrides how rows are read back, e.g.
    /// `parallel=1,rows=1000,bytes=2097152,strong` (the settings before Query batches overlapped
    /// and read as of the flush).
    public func verifierOptions(sample: Int, full: Bool, load: Bool, quiet: Bool = true,
                                environment: [String: String] = ProcessInfo.processInfo.environment) -> Verifier.Options {
        var o = Verifier.Options()
        o.quiet = quiet
        for item in (environment["MILVUS_MIGRATION_VERIFY_QUERY"] ?? "").split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let number = pair.count == 2 ? Int(pair[1]).flatMap { $0 > 0 ? $0 : nil } : nil
            switch (pair[0], number) {
            case ("parallel", let n?): o.queryParallelism = n
            case ("rows", let n?): o.queryRows = n
            case ("bytes", let n?): o.queryBytes = n
            case ("strong", nil): o.readAsOfFlush = false
            default: Logger(label: "milvus-migration.verify").warning("MILVUS_MIGRATION_VERIFY_QUERY: '\(item)' ignored (parallel=N, rows=N, bytes=N, strong)")
            }
        }
        o.sample = sample
        o.full = full
        o.load = load
        o.idField = target.milvus2x.idField
        o.vectorField = target.milvus2x.vectorField
        o.timeout = loader.importTimeout
        return o
    }
}

extension S3Settings {
    /// Resolves the `cloud` key the way the reference tool (zilliztech/milvus-migration) does:
    /// aws, minio, gcp, ali and tc (azure is refused), each with the default host, TLS and
    /// addressing chosen below, with explicit errors instead of panics. `base` is
    /// `target.remote` or `source.remote` for messages.
    public static func resolve(_ r: MigrationConfig.RemoteStorage, file: String, base: String,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> S3Settings {
        guard let bucket = r.bucket, !bucket.isEmpty else {
            throw MigrationError.config(file: file, key: "\(base).bucket", message: "missing; the bucket to use")
        }
        var useSSL = r.useSSL
        var endpoint = r.endpoint?.trimmingCharacters(in: .whitespaces) ?? ""
        // An endpoint written as a URL decides the scheme itself.
        if endpoint.hasPrefix("https://") {
            useSSL = true
            endpoint.removeFirst("https://".count)
        } else if endpoint.hasPrefix("http://") {
            useSSL = false
            endpoint.removeFirst("http://".count)
        }
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        if endpoint.contains("/") {
            throw MigrationError.config(file: file, key: "\(base).endpoint", message: "'\(r.endpoint!)' has a path; give host or host:port only")
        }
        var region = r.region ?? ""
        let host: String
        var addressing: Addressing
        switch r.cloud {
        case .aws:
            if region.isEmpty { region = "us-east-1" }
            if endpoint.isEmpty {
                host = "s3.\(region).amazonaws.com"
                useSSL = true
                addressing = isDNSCompatible(bucket) ? .virtualHost : .path
            } else {
                host = endpoint
                addressing = .path
            }
        case .minio:
            guard !endpoint.isEmpty else {
                throw MigrationError.config(file: file, key: "\(base).endpoint", message: "missing; cloud minio needs host:port of the S3 endpoint")
            }
            if region.isEmpty { region = "us-east-1" }
            host = endpoint
            addressing = .path
        case .gcp:
            // The XML API with HMAC keys; any region string is accepted, "auto" is the documented one.
            host = endpoint.isEmpty ? "storage.googleapis.com" : endpoint
            if endpoint.isEmpty { useSSL = true }
            if region.isEmpty { region = "auto" }
            addressing = .path
        case .ali:
            guard !region.isEmpty || !endpoint.isEmpty else {
                throw MigrationError.config(file: file, key: "\(base).region", message: "missing; cloud ali needs the OSS region (oss-cn-hangzhou) or an endpoint")
            }
            host = endpoint.isEmpty ? "\(region).oss.aliyuncs.com" : endpoint
            if region.isEmpty { region = endpoint.split(separator: ".").first.map(String.init) ?? "" }
            addressing = .virtualHost // OSS refuses path-style requests
        case .tc:
            guard !region.isEmpty || !endpoint.isEmpty else {
                throw MigrationError.config(file: file, key: "\(base).region", message: "missing; cloud tc needs the COS region (ap-guangzhou) or an endpoint")
            }
            host = endpoint.isEmpty ? "cos.\(region).myqcloud.com" : endpoint
            if region.isEmpty { region = endpoint.split(separator: ".").dropFirst().first.map(String.init) ?? "" }
            useSSL = true // as the reference tool: COS always over TLS
            addressing = .virtualHost // COS wants <bucket-appid>.cos.<region>.myqcloud.com
        case .azure, .az:
            throw MigrationError.config(file: file, key: "\(base).cloud", message: "azure (Blob storage) is not supported yet; use an S3-compatible store (aws, minio, gcp, ali, tc)")
        }
        var credentials = S3Credentials.anonymous
        var refresher: S3CredentialRefresher?
        if let found = try S3Credentials.resolve(r, file: file, base: base, environment: environment) {
            credentials = found
        } else if let chain = try S3CredentialChain.refresher(environment: environment, region: region, configKey: base, file: file) {
            refresher = chain
            credentials = S3Credentials(accessKey: "", secretKey: Secret(""), origin: chain.origin)
        } else {
            throw S3Credentials.notFound(file: file, base: base, environment: environment)
        }
        var settings = S3Settings(provider: r.cloud, useSSL: useSSL, host: host, region: region, bucket: bucket,
                                  addressing: addressing, credentials: credentials)
        settings.refresher = refresher
        settings.configKey = base
        if let mb = r.partSizeMB { settings.partSize = mb << 20 }
        if let n = r.uploadConcurrency { settings.partConcurrency = n }
        if let n = r.maxRetries { settings.maxAttempts = n + 1 }
        if let signPayload = r.signPayload { settings.signPayload = signPayload }
        return settings
    }

}

extension S3Credentials {
    /// `ak`/`sk`, or with `useIAM: true`: the AWS environment variables, then the shared
    /// credentials file (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`, profile
    /// `AWS_PROFILE` or `default`). nil: look further down the chain (web identity, container
    /// credentials: `S3CredentialChain`). Instance metadata is not queried.
    public static func resolve(_ r: MigrationConfig.RemoteStorage, file: String, base: String, environment: [String: String]) throws -> S3Credentials? {
        if !r.useIAM {
            let ak = r.accessKey?.revealed ?? ""
            let sk = r.secretKey?.revealed ?? ""
            if ak.isEmpty && sk.isEmpty { return .anonymous }
            guard !ak.isEmpty else { throw MigrationError.config(file: file, key: "\(base).ak", message: "missing; sk is set, ak must be too") }
            guard !sk.isEmpty else { throw MigrationError.config(file: file, key: "\(base).sk", message: "missing; ak is set, sk must be too") }
            return S3Credentials(accessKey: ak, secretKey: Secret(sk), origin: "\(base).ak/sk")
        }
        if let ak = environment["AWS_ACCESS_KEY_ID"], !ak.isEmpty {
            guard let sk = environment["AWS_SECRET_ACCESS_KEY"], !sk.isEmpty else {
                throw MigrationError.config(file: file, key: "\(base).useIAM", message: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
            }
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : Secret($0) }
            return S3Credentials(accessKey: ak, secretKey: Secret(sk), sessionToken: token, origin: "the environment (AWS_ACCESS_KEY_ID)")
        }
        let (path, profile) = sharedFile(environment)
        if let text = try? String(contentsOfFile: path, encoding: .utf8), let found = sharedCredentials(text, profile: profile) {
            return S3Credentials(accessKey: found.0, secretKey: Secret(found.1), sessionToken: found.2.map(Secret.init),
                                 origin: "\(path) [\(profile)]")
        }
        return nil
    }

}

extension MigrationConfig {
    /// The shard this process runs: `--shard i/N` when given; otherwise, with a shard count N > 1
    /// (`dumper.worker.shards`, or the environment's `MILVUS_MIGRATION_SHARDS`), the Kubernetes
    /// Indexed Job's `JOB_COMPLETION_INDEX`. Nil: an unsharded run. Every inconsistency is an
    /// error, because a wrong split migrates segments twice or never.
    public func shardSelection(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ShardSelection? {
        let count = try shardCount(environment: environment)
        if let flag {
            guard let shard = ShardSelection(parsing: flag) else {
                throw MigrationError.usage("--shard: expected i/N with 0 <= i < N (e.g. --shard 0/3), got '\(flag)'")
            }
            if let count, count != shard.count {
                throw MigrationError.usage("--shard \(shard): the shard count \(shard.count) differs from the configured \(count) (dumper.worker.shards or MILVUS_MIGRATION_SHARDS)")
            }
            return shard.count > 1 ? shard : nil
        }
        let indexText = environment["JOB_COMPLETION_INDEX"].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        guard let count, count > 1 else {
            if let indexText, indexText != "0" {
                throw MigrationError.usage("JOB_COMPLETION_INDEX is \(indexText) but no shard count is set: set dumper.worker.shards (or MILVUS_MIGRATION_SHARDS) to the Job's completions")
            }
            return nil
        }
        guard let indexText else {
            throw MigrationError.usage("a shard count of \(count) is set (dumper.worker.shards or MILVUS_MIGRATION_SHARDS) but no shard is chosen: pass --shard i/\(count) or set JOB_COMPLETION_INDEX")
        }
        guard let index = Int(indexText), let shard = ShardSelection(index: index, count: count) else {
            throw MigrationError.usage("JOB_COMPLETION_INDEX is '\(indexText)', not a shard index from 0 to \(count - 1) (shard count \(count))")
        }
        return shard
    }

    /// The configured shard count: `dumper.worker.shards`, or `MILVUS_MIGRATION_SHARDS`
    /// (both set to different values is an error); nil when neither is set.
    public func shardCount(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int? {
        let fromEnv = environment["MILVUS_MIGRATION_SHARDS"].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        guard let fromEnv else { return dumper.shards }
        guard let n = Int(fromEnv), n >= 1, n <= 100_000 else {
            throw MigrationError.usage("MILVUS_MIGRATION_SHARDS: expected a shard count from 1 to 100000, got '\(fromEnv)'")
        }
        if let configured = dumper.shards, configured != n {
            throw MigrationError.config(file: file, key: "dumper.worker.shards", message: "is \(configured), but MILVUS_MIGRATION_SHARDS is \(n); set one of them")
        }
        return n
    }
}

extension MigrationConfig {
    /// The pipeline's options (`dumper.*`, `loader.*`, `target.milvus2x.*`).
    public func pipelineOptions(quiet: Bool, environment: [String: String] = ProcessInfo.processInfo.environment) -> PipelineOptions {
        var o = PipelineOptions()
        o.stageParallelism = dumper.limit
        o.bufferBytes = dumper.readerBufferKB * 1024
        o.groupBytes = Int64(dumper.groupMB) << 20
        o.importParallelism = loader.limit
        o.importTimeout = loader.importTimeout
        o.fields = FieldNames(id: target.milvus2x.idField, vector: target.milvus2x.vectorField)
        o.onExisting = target.milvus2x.onExisting
        o.shards = target.milvus2x.shardsNum
        o.createIndex = target.milvus2x.createIndex
        o.loadCollection = target.milvus2x.loadCollection
        o.loadMode = loader.mode
        o.insertBatchBytes = loader.insertBatchMB << 20
        o.quiet = quiet
        o.stagedLocally = target.mode == .local
        o.cleanup = target.cleanup
        // How long import tasks left by an earlier run may show no progress before they count as
        // stalled (default 120 s); tests of a restarted server shorten it.
        if let text = environment["MILVUS_MIGRATION_IMPORT_STALL_SECONDS"], let seconds = Double(text), seconds > 0 {
            o.stallTimeout = seconds
        }
        // How long shards 1…N-1 wait for shard 0 to prepare a collection (default 600 s).
        if let text = environment["MILVUS_MIGRATION_SHARD_WAIT_SECONDS"], let seconds = Double(text), seconds > 0 {
            o.shardWaitTimeout = seconds
        }
        return o
    }
}
