import Foundation
import Testing
@testable import MilvusMigration

/// Milvus 2.3.5 with `common.storageType: minio` on the moto bucket: `dump` stages straight into
/// Milvus's own bucket, `load` imports by object key, `verify --full` reads every row back.
/// scripts/test.sh runs this suite in a phase of its own with MILVUS_STORAGE=minio.
let milvusOnMoto = milvusUp && ProcessInfo.processInfo.environment["MILVUS_STORAGE"] == "minio"
    && (ProcessInfo.processInfo.environment["MM_SERVICES"] ?? "").split(separator: ",").contains("moto")

@Suite(.serialized, .enabled(if: milvusOnMoto, "needs Milvus on moto storage, started by scripts/test.sh"))
struct RemoteMigrationTests {
    @Test func dumpToMilvusBucketLoadAndVerifyEveryRow() async throws {
        let m = try LoadTests.Migration(rows: 500, segments: 2)
        let (bucket, prefix) = try Self.stageInMilvusBucket(m)

        let dump = try await m.cli("dump")
        #expect(dump.0 == 0, "\(dump.2)")
        // The files are objects in Milvus's bucket, not on the local disk.
        let client = try Moto.client(bucket: bucket)
        let keys = try await client.listObjects(prefix: "\(prefix)/migration/tables/").objects.map(\.key)
        #expect(keys.filter { $0.hasSuffix(".npy") }.count == 12)
        #expect(!FileManager.default.fileExists(atPath: m.scenario.staging))

        let load = try await m.cli("load")
        #expect(load.0 == 0, "\(load.2)")
        #expect(load.1.contains("Row counts match the source."))
        let verify = try await m.cli("verify", ["--full", "--load"])
        #expect(verify.0 == 0, "\(verify.1)\(verify.2)")
        #expect(verify.1.contains("Milvus matches the source."))
        let total = m.scenario.expected.values.reduce(0) { $0 + $1.count }
        #expect(verify.1.contains("\(total) row(s) compared by id and vector bytes (every live row)."))

        // A rerun of start over the same bucket does nothing.
        let again = try await m.cli("start")
        #expect(again.0 == 0 && again.1.contains("Nothing to import"), "\(again.2)")
        try await m.dropAll()
    }

    /// As the Kubernetes example runs: shards at once, staging into Milvus's bucket, each with its
    /// journal there; `verify --full` checks the whole.
    @Test func shardsAtOnceStageIntoMilvusBucket() async throws {
        let m = try LoadTests.Migration(rows: 500, segments: 2)
        let (bucket, prefix) = try Self.stageInMilvusBucket(m)
        let shards = try (0..<2).map { try ShardMilvusTests.start(m, shard: "\($0)/2") }
        for (i, shard) in shards.enumerated() {
            let (status, out, err) = await shard.wait()
            #expect(status == 0, "shard \(i): \(err)")
            #expect(out.contains("every row this shard imported is in Milvus"), "shard \(i): \(out)")
        }
        let client = try Moto.client(bucket: bucket)
        let root = try await client.listObjects(prefix: "\(prefix)/migration/", delimiter: "/").objects.map(\.key).sorted()
        #expect(root == ["journal.shard-0-of-2.json", "journal.shard-1-of-2.json", "meta.json"].map { "\(prefix)/migration/\($0)" }, "\(root)")
        #expect(try await client.listMultipartUploads(prefix: "\(prefix)/").isEmpty)
        let verify = try await m.cli("verify", ["--full", "--load"])
        #expect(verify.0 == 0, "\(verify.1)\(verify.2)")
        #expect(verify.1.contains("Milvus matches the source."))
        // An unsharded run over the same prefix is refused: it would import every segment again.
        let unsharded = try await m.cli("start")
        #expect(unsharded.0 == 2 && unsharded.2.contains("of a run with 2 shards"), "\(unsharded.2)")
        try await m.dropAll()
    }

    /// Points the migration's staging at a fresh prefix of Milvus's own bucket.
    static func stageInMilvusBucket(_ m: LoadTests.Migration) throws -> (bucket: String, prefix: String) {
        let bucket = ProcessInfo.processInfo.environment["MM_S3_BUCKET"] ?? "milvus-bucket"
        let prefix = "mm-e2e-\(m.suffix)"
        var text = try String(contentsOfFile: m.scenario.configPath, encoding: .utf8)
        text = String(text[..<text.range(of: "target:")!.lowerBound])
        text += """
        target:
          mode: remote
          remote:
            outputDir: \(prefix)
            cloud: minio
            endpoint: \(Moto.endpoint)
            region: \(Moto.region)
            bucket: \(bucket)
            ak: \(Moto.accessKey)
            sk: \(Moto.secretKey)
            useSSL: false
            checkBucket: true
            partSizeMB: 5

        """
        text += MilvusTestEnv.yaml([:], renames: m.names)
        try text.write(toFile: m.scenario.configPath, atomically: true, encoding: .utf8)
        return (bucket, prefix)
    }
}
