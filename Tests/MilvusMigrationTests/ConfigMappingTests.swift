import Foundation
import Testing
@testable import MilvusMigration

/// Config/ConfigMapping.swift: the one place `migration.yaml` becomes the options of the other
/// folders, and `export`'s -s/-m choice.
@Suite struct ConfigMappingTests {
    static func config(_ body: String) throws -> MigrationConfig {
        try MigrationConfig.parse("dumper:\n  worker:\n    workMode: milvus1x\n" + body, file: "m.yaml", environment: [:])
    }

    @Test func metaSourceFollowsMetaMode() throws {
        guard case .sqlite(let path) = try Self.config("meta:\n  mode: sqlite\n  sqliteFile: /db/meta.sqlite\n").metaSource() else {
            Issue.record("sqlite mode")
            return
        }
        #expect(path == "/db/meta.sqlite")
        guard case .json(let mock) = try Self.config("meta:\n  mode: mock\n  mockFile: /x/meta.json\n").metaSource(),
              case .json(let local) = try Self.config("meta:\n  mode: local\n  localFile: /y/meta.json\n").metaSource() else {
            Issue.record("mock/local mode")
            return
        }
        #expect(mock == "/x/meta.json" && local == "/y/meta.json")
        guard case .mysql(let dsn) = try Self.config("meta:\n  mode: mysql\n  mysqlUrl: root:hunter2@tcp(127.0.0.1:3306)/milvus\n").metaSource() else {
            Issue.record("mysql mode")
            return
        }
        #expect(dsn.database == "milvus")
        #expect { try Self.config("meta:\n  mode: mysql\n  mysqlUrl: root:hunter2@tcp(127.0.0.1:3306)\n").metaSource() } throws: { error in
            guard case MigrationError.config(let file, let key, _) = error else { return false }
            return file == "m.yaml" && key == "meta.mysqlUrl" && !"\(error)".contains("hunter2")
        }
        let remote = try Self.config("meta:\n  mode: remote\n  remoteMetaFile: /exports//meta.json\nsource:\n  remote:\n    cloud: minio\n    endpoint: 127.0.0.1:9000\n    bucket: b1\n").metaSource()
        guard case .object(let client, let key) = remote else {
            Issue.record("remote mode")
            return
        }
        #expect(key == "exports/meta.json" && client.settings.bucket == "b1" && client.settings.configKey == "source.remote")
    }

    @Test func storagesFollowTheModes() throws {
        let local = try Self.config("source:\n  local:\n    tablesDir: /milvus/db/tables\ntarget:\n  local:\n    outputDir: /out\n")
        #expect((try local.sourceStorage() as? LocalSourceStorage)?.root == "/milvus/db/tables")
        #expect((try local.stagingArea() as? LocalStagingArea)?.root == "/out/migration")
        let remote = try Self.config("""
        source:
          mode: remote
          remote:
            cloud: minio
            endpoint: 127.0.0.1:9000
            bucket: src
            tablesDir: milvus/db/tables
        target:
          mode: remote
          remote:
            cloud: minio
            endpoint: 127.0.0.1:9000
            bucket: dst
            outputDir: out
        """ + "\n")
        #expect(try remote.sourceStorage().location.hasPrefix("s3://src/"))
        #expect(try remote.stagingArea().location.hasPrefix("s3://dst/"))
        #expect { try Self.config("target:\n  mode: remote\n  remote:\n    cloud: minio\n    endpoint: 127.0.0.1:9000\n").stagingArea() } throws: { error in
            guard case MigrationError.config(_, let key, _) = error else { return false }
            return key == "target.remote.bucket"
        }
    }

    @Test func milvusAndVerifierOptions() throws {
        let c = try Self.config("""
        loader:
          worker:
            importTimeout: 90
        target:
          milvus2x:
            endpoint: milvus.example.com:19530/db2
            username: root
            password: Milvus
            idField: pk
            vectorField: vec
            grpc:
              maxCallRecvMsgSize: 1048576
        """ + "\n")
        let load = try c.milvusOptions()
        #expect(load.createsDatabase && load.database == "db2" && load.username == "root" && load.maxReceiveBytes == 1 << 20)
        #expect(try !c.milvusOptions(createsDatabase: false).createsDatabase)
        let verify = c.verifierOptions(sample: 7, full: true, load: true)
        #expect(verify.sample == 7 && verify.full && verify.load && verify.idField == "pk" && verify.vectorField == "vec" && verify.timeout == 90)
        #expect(verify.queryParallelism == 4 && verify.readAsOfFlush && verify.quiet)
        let old = c.verifierOptions(sample: 7, full: true, load: false, quiet: false,
                                    environment: ["MILVUS_MIGRATION_VERIFY_QUERY": "parallel=1, rows=1000,bytes=2097152,strong,rows=x"])
        #expect(old.queryParallelism == 1 && old.queryRows == 1000 && old.queryBytes == 2 << 20 && !old.readAsOfFlush && !old.quiet)
    }

    @Test func exportChoosesSQLiteThenMySQL() throws {
        guard case .sqlite(let path) = try MetaSource.database(sqlite: "/a.sqlite", mysql: "not a dsn") else {
            Issue.record("-s wins over -m")
            return
        }
        #expect(path == "/a.sqlite")
        guard case .mysql(let dsn) = try MetaSource.database(sqlite: nil, mysql: "u:p@tcp(h:3306)/milvus") else {
            Issue.record("-m")
            return
        }
        #expect(dsn.database == "milvus")
        #expect { try MetaSource.database(sqlite: nil, mysql: "u:hunter2@tcp(h:3306)") } throws: { error in
            guard case MigrationError.usage(let message) = error else { return false }
            return message.hasPrefix("-m: ") && !message.contains("hunter2")
        }
        #expect { try MetaSource.database(sqlite: nil, mysql: nil) } throws: { error in
            guard case MigrationError.usage(let message) = error else { return false }
            return message.contains("-s") && message.contains("-m")
        }
    }
}
