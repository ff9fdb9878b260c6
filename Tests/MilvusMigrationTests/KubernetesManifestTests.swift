import Foundation
import Testing
import Yams
@testable import MilvusMigration

/// deploy/kubernetes/: every document of every manifest parsed, and the fields the tool relies
/// on checked against the tool itself: the Indexed Job's size against the shard count that the
/// mounted migration.yaml gives the tool, the config path against `--config`, the Secret's keys
/// against the `${VAR}`s the config needs (the config is parsed with exactly those variables).
@Suite struct KubernetesManifestTests {
    static let folder: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("deploy/kubernetes").path
    }()

    typealias Object = [String: Any]

    /// Every document of every `.yaml` file in the folder.
    static func documents() throws -> [Object] {
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted()
        var docs: [Object] = []
        for file in files {
            let text = try String(contentsOfFile: "\(folder)/\(file)", encoding: .utf8)
            for case let doc as Object in try Yams.load_all(yaml: text) { docs.append(doc) }
        }
        return docs
    }

    static func find(_ docs: [Object], kind: String, name: String) throws -> Object {
        try #require(docs.first { $0["kind"] as? String == kind && (($0["metadata"] as? Object)?["name"] as? String) == name },
                     "\(kind) \(name) is missing")
    }

    struct Pod {
        var container: Object
        var command: [String]
        var volumes: [Object]
        var restartPolicy: String?

        init(job: Object) throws {
            let template = try #require((job["spec"] as? Object)?["template"] as? Object)
            let spec = try #require(template["spec"] as? Object)
            let containers = try #require(spec["containers"] as? [Object])
            #expect(containers.count == 1)
            container = containers[0]
            command = try #require(container["command"] as? [String])
            volumes = spec["volumes"] as? [Object] ?? []
            restartPolicy = spec["restartPolicy"] as? String
        }

        /// The value after `--config` (or `-c`).
        var configArgument: String? {
            guard let i = command.firstIndex(where: { $0 == "--config" || $0 == "-c" }), i + 1 < command.count else { return nil }
            return command[i + 1]
        }

        /// The ConfigMap mounted at the folder of the `--config` file and the key the file is.
        func mountedConfig() throws -> (configMap: String, key: String) {
            let path = try #require(configArgument, "no --config in \(command)")
            let folder = (path as NSString).deletingLastPathComponent, key = (path as NSString).lastPathComponent
            let mounts = try #require(container["volumeMounts"] as? [Object])
            let mount = try #require(mounts.first { ($0["mountPath"] as? String) == folder }, "nothing is mounted at \(folder)")
            let volume = try #require(volumes.first { $0["name"] as? String == mount["name"] as? String })
            let configMap = try #require((volume["configMap"] as? Object)?["name"] as? String, "the config volume is not a ConfigMap")
            return (configMap, key)
        }

        var secretRefs: [String] {
            (container["envFrom"] as? [Object] ?? []).compactMap { ($0["secretRef"] as? Object)?["name"] as? String }
        }
    }

    /// Every `${VAR}` without a default in `text`.
    static func requiredVariables(_ text: String) -> Set<String> {
        let regex = try! NSRegularExpression(pattern: #"\$\{([A-Za-z_][A-Za-z0-9_]*)\}"#)
        let range = NSRange(text.startIndex..., in: text)
        return Set(regex.matches(in: text, range: range).map { String(text[Range($0.range(at: 1), in: text)!]) })
    }

    @Test func indexedJobConfigAndSecretFitTogether() throws {
        let docs = try Self.documents()
        let job = try Self.find(docs, kind: "Job", name: "milvus-migration")
        #expect(job["apiVersion"] as? String == "batch/v1")
        let spec = try #require(job["spec"] as? Object)
        #expect(spec["completionMode"] as? String == "Indexed", "the shard index comes from JOB_COMPLETION_INDEX, set only in Indexed mode")
        let completions = try #require(spec["completions"] as? Int)
        #expect(spec["parallelism"] as? Int == completions, "every shard runs at once")
        #expect(completions > 1)

        let pod = try Pod(job: job)
        #expect(pod.command.prefix(2) == ["milvus-migration", "start"], "\(pod.command)")
        #expect(!pod.command.contains("--shard"), "the shard comes from JOB_COMPLETION_INDEX")
        #expect(pod.restartPolicy == "OnFailure" || pod.restartPolicy == "Never")
        let image = try #require(pod.container["image"] as? String)
        #expect(image.contains("milvus-migration") && !image.isEmpty)

        // The mounted config, parsed by the tool with the Secret's keys as the environment.
        let (configMapName, key) = try pod.mountedConfig()
        let configMap = try Self.find(docs, kind: "ConfigMap", name: configMapName)
        let text = try #require((configMap["data"] as? Object)?[key] as? String, "ConfigMap \(configMapName) has no key \(key)")
        #expect(pod.secretRefs.count == 1)
        let secret = try Self.find(docs, kind: "Secret", name: try #require(pod.secretRefs.first))
        let secretData = try #require(secret["stringData"] as? [String: String])
        let needed = Self.requiredVariables(text)
        #expect(!needed.isEmpty, "credentials come from the Secret, not from the file")
        #expect(needed.isSubset(of: Set(secretData.keys)), "missing in the Secret: \(needed.subtracting(secretData.keys).sorted())")
        #expect(Set(secretData.keys).isSubset(of: needed), "unused Secret keys: \(Set(secretData.keys).subtracting(needed).sorted())")
        let config = try MigrationConfig.parse(text, file: "configmap/\(key)", environment: secretData)
        try config.validate([.meta, .source, .target, .milvus])
        #expect(config.target.milvus2x.password?.revealed == secretData["MILVUS_PASSWORD"])
        // Shards run into one staging area that Milvus reads: its own bucket.
        #expect(config.target.mode == .remote)

        // The shard count the tool takes is the Job's size, and each index is a valid shard.
        #expect(config.dumper.shards == completions)
        for index in 0..<completions {
            let shard = try config.shardSelection(flag: nil, environment: secretData.merging(["JOB_COMPLETION_INDEX": String(index)]) { $1 })
            #expect(shard == ShardSelection(index: index, count: completions))
        }
        #expect(throws: MigrationError.self) {
            try config.shardSelection(flag: nil, environment: ["JOB_COMPLETION_INDEX": String(completions)])
        }
        // onExisting: drop applies once, by shard 0; the example keeps the default.
        #expect(config.target.milvus2x.onExisting == .fail)
    }

    @Test func verifyJobChecksTheWholeWithTheSameConfig() throws {
        let docs = try Self.documents()
        let job = try Self.find(docs, kind: "Job", name: "milvus-migration")
        let verify = try Self.find(docs, kind: "Job", name: "milvus-migration-verify")
        let spec = try #require(verify["spec"] as? Object)
        #expect(spec["completionMode"] == nil, "verify checks all shards' rows: one pod, no shard index")
        let pod = try Pod(job: verify)
        #expect(pod.command.prefix(2) == ["milvus-migration", "verify"], "\(pod.command)")
        #expect(pod.command.contains("--full"))
        #expect(!pod.command.contains("--shard"))
        let migrate = try Pod(job: job)
        #expect(try pod.mountedConfig() == migrate.mountedConfig())
        #expect(pod.configArgument == migrate.configArgument)
        #expect(pod.secretRefs == migrate.secretRefs)
        #expect(pod.container["image"] as? String == migrate.container["image"] as? String)
    }
}
