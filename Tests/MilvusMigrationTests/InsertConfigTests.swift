import Foundation
import Testing
@testable import MilvusMigration

/// The insert-mode and managed-Milvus keys: `loader.mode`, `loader.insert.batchMB`,
/// `target.milvus2x.token` with an endpoint such as Zilliz Cloud's, as written.
@Suite struct InsertConfigTests {
    static func config(_ body: String) throws -> MigrationConfig {
        try ConfigMappingTests.config(body)
    }

    @Test func loaderModeAndBatchSize() throws {
        let defaults = try Self.config("").pipelineOptions(quiet: true, environment: [:])
        #expect(defaults.loadMode == .import && defaults.insertBatchBytes == 16 << 20)
        let insert = try Self.config("loader:\n  mode: insert\n  insert:\n    batchMB: 4\n").pipelineOptions(quiet: true, environment: [:])
        #expect(insert.loadMode == .insert && insert.insertBatchBytes == 4 << 20)
        #expect { try Self.config("loader:\n  mode: upsert\n") } throws: { error in
            guard case MigrationError.config(_, let key, let message) = error else { return false }
            return key == "loader.mode" && message.contains("import") && message.contains("insert")
        }
        #expect { try Self.config("loader:\n  insert:\n    batchMB: 64\n") } throws: { error in
            guard case MigrationError.config(_, let key, _) = error else { return false }
            return key == "loader.insert.batchMB"
        }
    }

    /// An Insert request of batchMB must fit the configured gRPC send limit.
    @Test func batchSizeMustFitTheSendLimit() throws {
        let limit = "  milvus2x:\n    grpc:\n      maxCallSendMsgSize: 8388608\n"
        #expect { try Self.config("loader:\n  mode: insert\n  insert:\n    batchMB: 16\ntarget:\n" + limit) } throws: { error in
            guard case MigrationError.config(_, let key, let message) = error else { return false }
            return key == "loader.insert.batchMB" && message.contains("at most 7")
        }
        let fits = try Self.config("loader:\n  mode: insert\n  insert:\n    batchMB: 7\ntarget:\n" + limit)
        #expect(fits.loader.insertBatchMB == 7)
        // Import mode sends no Insert: the limit does not concern batchMB there.
        #expect(try Self.config("loader:\n  insert:\n    batchMB: 16\ntarget:\n" + limit).loader.insertBatchMB == 16)
    }

    @Test func zillizCloudEndpointAndTokenAsWritten() throws {
        let c = try Self.config("""
        target:
          milvus2x:
            endpoint: https://in03-0123456789abcdef.api.gcp-us-west1.zillizcloud.com:443
            token: db_admin:s3cret-api-key
        """)
        let o = try c.milvusOptions()
        #expect(o.endpoint.tls && o.endpoint.port == 443 && o.endpoint.host == "in03-0123456789abcdef.api.gcp-us-west1.zillizcloud.com")
        #expect(o.token?.revealed == "db_admin:s3cret-api-key" && o.sendsCredentials)
        #expect(o.plaintextCredentialsWarning == nil, "TLS is on")
        // Over plain HTTP to another host, the token gets the same warning as a password, without its value.
        let plain = try Self.config("target:\n  milvus2x:\n    endpoint: http://milvus.example.com:19530\n    token: abc-secret\n").milvusOptions()
        let warning = try #require(plain.plaintextCredentialsWarning)
        #expect(warning.contains("the token (target.milvus2x.token)") && !warning.contains("abc-secret"))
    }

    @Test func tokenAndUsernameExcludeEachOtherWithoutEchoingEither() throws {
        let c = try Self.config("""
        target:
          milvus2x:
            endpoint: 127.0.0.1:19530
            username: root
            password: pw-secret
            token: tok-secret
        """)
        #expect { try c.validate([.milvus]) } throws: { error in
            guard case MigrationError.config(_, let key, _) = error else { return false }
            return key == "target.milvus2x.token" && !"\(error)".contains("tok-secret") && !"\(error)".contains("pw-secret")
        }
    }
}
