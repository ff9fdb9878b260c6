import Foundation
import Testing
@testable import MilvusMigration

@Suite struct ConfigTests {
    let base = """
    dumper:
      worker:
        workMode: milvus1x
        limit: 4
        reader:
          bufferSize: 2048
    loader:
      worker:
        limit: 3
    meta:
      mode: mock
      mockFile: /tmp/meta.json
    source:
      mode: local
      local:
        tablesDir: /tmp
    target:
      mode: remote
      remote:
        outputDir: out/
        cloud: aws
        endpoint: 127.0.0.1:9000
        region: us-east-1
        bucket: a-bucket
        ak: minioadmin
        sk: ${S3_SECRET}
        useSSL: false
        checkBucket: true
      milvus2x:
        endpoint: localhost:19530
        username: root
        password: ${MILVUS_PASSWORD:-Milvus}
        collections:
          Old_Name: new_name
    """

    @Test func referenceKeysAreRead() throws {
        let c = try MigrationConfig.parse(base, file: "m.yaml", environment: ["S3_SECRET": "s3cr3t"])
        #expect(c.dumper.workMode == .milvus1x && c.dumper.limit == 4 && c.dumper.readerBufferKB == 2048)
        #expect(c.loader.limit == 3)
        #expect(c.meta.mode == .mock && c.meta.mockFile == "/tmp/meta.json")
        #expect(c.source.mode == .local && c.source.tablesDir == "/tmp")
        #expect(c.target.mode == .remote && c.target.remote.bucket == "a-bucket" && c.target.remote.prefix == "out/")
        #expect(c.target.remote.secretKey?.revealed == "s3cr3t" && c.target.remote.checkBucket)
        #expect(c.target.milvus2x.password?.revealed == "Milvus")
        #expect(c.target.milvus2x.collections == ["Old_Name": "new_name"])
        #expect(c.target.milvus2x.idField == "id" && c.target.milvus2x.vectorField == "data")
    }

    @Test func keysAreCaseInsensitive() throws {
        let text = base.replacingOccurrences(of: "workMode", with: "WORKMODE").replacingOccurrences(of: "mockFile", with: "mockfile")
        let c = try MigrationConfig.parse(text, file: "m.yaml", environment: ["S3_SECRET": "x"])
        #expect(c.meta.mockFile == "/tmp/meta.json")
    }

    @Test func unknownKeyIsNamed() {
        let text = base.replacingOccurrences(of: "bufferSize: 2048", with: "bufferSize: 2048\n      bufferSzie: 1")
        #expect(throws: MigrationError.config(file: "m.yaml", key: "dumper.worker.reader.bufferSzie", message: "unknown key; see the README for the accepted keys")) {
            try MigrationConfig.parse(text, file: "m.yaml", environment: ["S3_SECRET": "x"])
        }
    }

    @Test func unknownValueIsNamed() {
        let text = base.replacingOccurrences(of: "mode: mock", with: "mode: mango")
        #expect {
            try MigrationConfig.parse(text, file: "m.yaml", environment: ["S3_SECRET": "x"])
        } throws: { error in
            "\(error)" == "m.yaml: key 'meta.mode': unknown value 'mango' (expected one of: sqlite, mysql, mock, local, remote)"
        }
        #expect { try MigrationConfig.parse(base.replacingOccurrences(of: "limit: 4", with: "limit: four"), file: "m.yaml", environment: ["S3_SECRET": "x"]) }
            throws: { "\($0)".contains("'dumper.worker.limit': expected a whole number, got 'four'") }
        #expect { try MigrationConfig.parse(base.replacingOccurrences(of: "workMode: milvus1x", with: "workMode: faiss"), file: "m.yaml", environment: ["S3_SECRET": "x"]) }
            throws: { "\($0)".contains("'dumper.worker.workMode': work mode 'faiss' is not supported") }
    }

    @Test func missingEnvironmentVariableIsNamed() {
        #expect(throws: MigrationError.config(file: "m.yaml", key: "target.remote.sk", message: "environment variable S3_SECRET is not set (referenced as ${S3_SECRET})")) {
            try MigrationConfig.parse(base, file: "m.yaml", environment: [:])
        }
    }

    @Test func missingRequiredKeysAreNamed() throws {
        let dir = TempDir()
        #expect { try MigrationConfig.parse("meta:\n  mode: sqlite\n", file: "m.yaml") }
            throws: { "\($0)" == "m.yaml: key 'dumper.worker.workMode': missing; set it to milvus1x" }
        let c = try MigrationConfig.parse("dumper:\n  worker:\n    workMode: milvus1x\nmeta:\n  mode: sqlite\n", file: "m.yaml")
        #expect { try c.validate(.meta) } throws: { "\($0)".contains("key 'meta.sqliteFile': missing") }
        #expect { try c.validate(.source) } throws: { "\($0)".contains("key 'source.mode': missing") }
        #expect { try c.validate(.milvus) } throws: { "\($0)".contains("key 'target.milvus2x.endpoint': missing") }
        let withFile = try MigrationConfig.parse("dumper:\n  worker:\n    workMode: milvus1x\nmeta:\n  mode: sqlite\n  sqliteFile: \(dir.sub("nope.sqlite"))\n", file: "m.yaml")
        #expect { try withFile.validate(.meta) } throws: { "\($0)".contains("key 'meta.sqliteFile': '\(dir.sub("nope.sqlite"))' does not exist") }
    }

    /// What each command needs of the configuration is decided in one place, for the CLI and the
    /// job server alike: `load` in insert mode reads the source, so it needs what `start` needs.
    @Test func eachCommandsRequirementsAndLoadingForACommand() throws {
        let bulk = try MigrationConfig.parse("dumper:\n  worker:\n    workMode: milvus1x\nmeta:\n  mode: sqlite\n", file: "m.yaml")
        #expect(bulk.requirements(for: .plan) == [.meta, .source])
        #expect(bulk.requirements(for: .dump) == [.meta, .source, .target])
        #expect(bulk.requirements(for: .load) == [.target, .milvus])
        #expect(bulk.requirements(for: .start) == [.meta, .source, .target, .milvus])
        #expect(bulk.requirements(for: .verify) == [.meta, .source, .milvus])
        let insert = try MigrationConfig.parse("dumper:\n  worker:\n    workMode: milvus1x\nloader:\n  mode: insert\n", file: "m.yaml")
        #expect(insert.requirements(for: .load) == [.meta, .source, .target, .milvus])
        #expect(insert.requirements(for: .dump) == bulk.requirements(for: .dump))

        // Located, read and checked for the command: the path read comes back; a missing key is named.
        let dir = TempDir()
        let path = dir.sub("migration.yaml")
        try Data("dumper:\n  worker:\n    workMode: milvus1x\nmeta:\n  mode: sqlite\n  sqliteFile: \(path)\nsource:\n  mode: local\n  local:\n    tablesDir: \(dir.path)\n".utf8)
            .write(to: URL(fileURLWithPath: path))
        let loaded = try MigrationConfig.load(for: .plan, explicit: path, environment: [:])
        #expect(loaded.path == path && loaded.config.meta.sqliteFile == path)
        #expect { try MigrationConfig.load(for: .dump, explicit: path, environment: [:]) } throws: { "\($0)".contains("key 'target.mode': missing") }
        #expect { try MigrationConfig.load(for: .verify, explicit: path, environment: [:]) } throws: { "\($0)".contains("key 'target.milvus2x.endpoint': missing") }
    }

    @Test func metaModeLocalIsSupported() throws {
        let dir = TempDir()
        let file = dir.sub("meta.json")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: file))
        let c = try MigrationConfig.parse("dumper:\n  worker:\n    workMode: milvus1x\nmeta:\n  mode: local\n  localFile: \(file)\n", file: "m.yaml")
        try c.validate(.meta)
        #expect(c.metaJSONFile == file)
    }

    @Test func secretsNeverPrint() throws {
        let c = try MigrationConfig.parse(base, file: "m.yaml", environment: ["S3_SECRET": "s3cr3t", "MILVUS_PASSWORD": "hunter2"])
        let dump = "\(c) \(String(reflecting: c))"
        #expect(!dump.contains("s3cr3t") && !dump.contains("hunter2") && !dump.contains("minioadmin"))
        #expect(dump.contains("<redacted>"))
    }

    @Test func duplicateKeysDifferingInCase() {
        let text = base.replacingOccurrences(of: "    limit: 3", with: "    limit: 3\n    LIMIT: 5")
        #expect { try MigrationConfig.parse(text, file: "m.yaml", environment: ["S3_SECRET": "x"]) } throws: { "\($0)".contains("given twice") }
    }
}
