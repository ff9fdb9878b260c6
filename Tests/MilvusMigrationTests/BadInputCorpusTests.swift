import Foundation
import GRDB
import Testing
import Milvus1xFixture
@testable import MilvusMigration

// The bad-input corpus (issue 11): every case runs the real CLI binary on one broken input and
// checks the exit status (2 usage/config, 1 data/target), that stderr names the file / key /
// collection / segment, that no secret of the config shows up in any output or file the run
// wrote, and (for cases that could reach Milvus) that no collection was created.

/// Recognisable credentials put into every config of the corpus.
enum CorpusSecrets {
    static let password = "PwSecret-7Qz91xK"
    static let mysqlPassword = "DbSecret-4Hw22pR"
    static let accessKey = "AKSECRET9ZZQ4417"
    static let secretKey = "SkSecret-Lm83tYv0"
    static let all = [password, mysqlPassword, accessKey, secretKey]
}

/// The folder and config of one case.
final class CorpusCase: @unchecked Sendable {
    let dir = TempDir("corpus")
    let suffix = String(UUID().uuidString.prefix(8)).lowercased()
    /// The 2.x names the sample's collections are renamed to (checked absent afterwards).
    var targetNames: [String] { ["bad_\(suffix)_p", "bad_\(suffix)_f"] }
    /// Secrets that must not appear; a case that needs the real Milvus password drops its own.
    var secrets = CorpusSecrets.all
    /// Objects kept alive for the run (scratch databases).
    var keep: [AnyObject] = []
    var configPath: String { dir.sub("migration.yaml") }
    var db: String { dir.sub("db") }
    var metaPath: String { dir.sub("db/meta.sqlite") }

    /// The sample 1.x database (products: 3 segments, fingerprints: 2), 20 rows per segment.
    func sample() throws {
        try SampleDatabase.write(root: db, rowsPerSegment: 20)
    }

    /// The segment folders of `products`' default partition, in id order.
    func productSegments() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.sub("db/tables/products")).sorted().map { dir.sub("db/tables/products/\($0)") }
    }

    /// The keys of a complete config (every secret key set), as dotted path -> YAML value text.
    func baseKeys() -> [String: String] {
        [
            "dumper.worker.workMode": "milvus1x",
            "meta.mode": "sqlite",
            "meta.sqliteFile": metaPath,
            "meta.mysqlUrl": "root:\(CorpusSecrets.mysqlPassword)@tcp(127.0.0.1:1)/milvus",
            "source.mode": "local",
            "source.local.tablesDir": dir.sub("db/tables"),
            "source.remote.bucket": "corpus-source",
            "source.remote.ak": CorpusSecrets.accessKey,
            "source.remote.sk": CorpusSecrets.secretKey,
            "target.mode": "local",
            "target.local.outputDir": dir.sub("staged"),
            "target.remote.bucket": "corpus-target",
            "target.remote.ak": CorpusSecrets.accessKey,
            "target.remote.sk": CorpusSecrets.secretKey,
            "target.milvus2x.endpoint": MilvusTestEnv.endpoint,
            "target.milvus2x.username": MilvusTestEnv.user ?? "root",
            "target.milvus2x.password": CorpusSecrets.password,
            "target.milvus2x.collections.products": targetNames[0],
            "target.milvus2x.collections.fingerprints": targetNames[1],
        ]
    }

    /// The YAML of `keys` (nested by the dots, sorted), values written as given.
    static func yaml(_ keys: [String: String]) -> String {
        final class Tree { var children: [(String, Tree)] = []; var value: String? }
        let root = Tree()
        for (path, value) in keys.sorted(by: { $0.key < $1.key }) {
            var node = root
            for part in path.split(separator: ".").map(String.init) {
                if let next = node.children.first(where: { $0.0 == part })?.1 {
                    node = next
                } else {
                    let next = Tree()
                    node.children.append((part, next))
                    node = next
                }
            }
            node.value = value
        }
        var out = ""
        func emit(_ node: Tree, _ indent: String) {
            for (name, child) in node.children {
                if let value = child.value {
                    out += "\(indent)\(name): \(value)\n"
                } else {
                    out += "\(indent)\(name):\n"
                    emit(child, indent + "  ")
                }
            }
        }
        emit(root, "")
        return out
    }

    /// Writes the config: the base keys with `set` applied and `drop` removed.
    @discardableResult
    func config(_ set: [String: String] = [:], drop: [String] = [], edit: (String) -> String = { $0 }) throws -> String {
        var keys = baseKeys()
        for (k, v) in set { keys[k] = v }
        for k in drop { keys[k] = nil }
        try edit(CorpusCase.yaml(keys)).write(toFile: configPath, atomically: true, encoding: .utf8)
        return configPath
    }

    /// The config for the real Milvus of the test command (its real password, so not checked).
    func milvusConfig(_ set: [String: String] = [:]) throws {
        var keys = set
        keys["target.milvus2x.password"] = MilvusTestEnv.password ?? ""
        secrets.removeAll { $0 == CorpusSecrets.password }
        try config(keys)
    }

    /// Rebuilds `Tables` and `TableFiles` without NOT NULL constraints (types kept), then runs `sql`.
    func corruptMeta(_ sql: String) throws { try loosenMeta(at: metaPath, thenRun: sql) }

    /// A meta.json config (`meta.mode: local`) with this text as the file.
    func metaJSON(_ text: String) throws -> String {
        try sample()
        let path = dir.sub("meta.json")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try config(["meta.mode": "local", "meta.localFile": path])
        return path
    }

    func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}

/// One bad input: how to make it and what the CLI must answer.
struct BadInput: Sendable, CustomTestStringConvertible {
    enum Needs: Sendable { case nothing, mariadb, milvus, milvusAuth }
    let name: String
    var needs: Needs = .nothing
    let exit: Int32
    /// Substrings stderr must contain; `{dir}` is the case's folder.
    let mentions: [String]
    /// Makes the input in the case's folder; returns the CLI arguments.
    let make: @Sendable (CorpusCase) throws -> [String]

    var testDescription: String { name }

    init(_ name: String, needs: Needs = .nothing, exit: Int32, _ mentions: [String], _ make: @escaping @Sendable (CorpusCase) throws -> [String]) {
        self.name = name
        self.needs = needs
        self.exit = exit
        self.mentions = mentions
        self.make = make
    }
}

/// Runs the CLI with a time limit (a hang is a failure, not a stuck test run).
func runBounded(_ arguments: [String], seconds: Double = 120) async throws -> (status: Int32, out: String, err: String, timedOut: Bool) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: cliPath)
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["MM_CORPUS_UNSET_VAR"] = nil
    process.environment = environment
    let outFile = NSTemporaryDirectory() + "corpus-out-\(UUID().uuidString)"
    let errFile = NSTemporaryDirectory() + "corpus-err-\(UUID().uuidString)"
    FileManager.default.createFile(atPath: outFile, contents: nil)
    FileManager.default.createFile(atPath: errFile, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: outFile); try? FileManager.default.removeItem(atPath: errFile) }
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outFile))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errFile))
    process.standardInput = FileHandle.nullDevice
    let timedOut = try await runWithin(process, seconds: seconds)
    let out = (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
    return (process.terminationStatus, out, err, timedOut)
}

enum BadInputCorpus {
    static func plan(_ c: CorpusCase) -> [String] { ["plan", "-c", c.configPath] }

    /// migration.yaml: syntax, secrets, anchors, size, special files, keys, types, values.
    static let config: [BadInput] = [
        BadInput("yaml: unquoted '@' starts the password", exit: 2, ["migration.yaml:", "not valid YAML"]) { c in
            try c.sample(); try c.config(["target.milvus2x.password": "@" + CorpusSecrets.password]); return plan(c)
        },
        BadInput("yaml: backtick starts sk", exit: 2, ["migration.yaml:", "not valid YAML"]) { c in
            try c.sample(); try c.config(["target.remote.sk": "`" + CorpusSecrets.secretKey]); return plan(c)
        },
        BadInput("yaml: unclosed quote in mysqlUrl", exit: 2, ["migration.yaml:", "not valid YAML"]) { c in
            try c.sample(); try c.config(["meta.mysqlUrl": "\"root:\(CorpusSecrets.mysqlPassword)@tcp(127.0.0.1:3306)/milvus"]); return plan(c)
        },
        BadInput("yaml: ': ' inside ak", exit: 2, ["migration.yaml:", "not valid YAML"]) { c in
            try c.sample(); try c.config(["source.remote.ak": "\(CorpusSecrets.accessKey): x"]); return plan(c)
        },
        BadInput("yaml: a second document", exit: 2, ["migration.yaml:", "second YAML document"]) { c in
            try c.sample(); try c.config { $0 + "---\nmeta:\n  mode: sqlite\n" }; return plan(c)
        },
        BadInput("yaml: nested anchors and aliases (billion laughs)", exit: 2, ["migration.yaml:", "anchors"]) { c in
            try c.sample()
            // Mappings (not lists) of aliases: the old reader flattened every expanded path.
            var laughs = "a0: &a0 {" + (0..<9).map { "k\($0): lol" }.joined(separator: ", ") + "}\n"
            for i in 1...5 { laughs += "a\(i): &a\(i) {" + (0..<9).map { "k\($0): *a\(i - 1)" }.joined(separator: ", ") + "}\n" }
            try c.config { $0 + laughs }
            return plan(c)
        },
        BadInput("yaml: an alias as the password", exit: 2, ["migration.yaml:", "aliases"]) { c in
            try c.sample(); try c.config(["target.milvus2x.password": "*" + CorpusSecrets.password]); return plan(c)
        },
        BadInput("yaml: a config over 1 MiB", exit: 2, ["migration.yaml", "at most 1 MiB"]) { c in
            try c.sample(); try c.config { $0 + "# " + String(repeating: "x", count: 1_100_000) + "\n" }; return plan(c)
        },
        BadInput("config: a FIFO", exit: 2, ["fifo.yaml", "not a regular file"]) { c in
            try c.sample(); mkfifo(c.dir.sub("fifo.yaml"), 0o600); return ["plan", "-c", c.dir.sub("fifo.yaml")]
        },
        BadInput("config: a folder", exit: 2, ["{dir}", "a folder"]) { c in
            try c.sample(); return ["plan", "-c", c.dir.path]
        },
        BadInput("config: missing file", exit: 2, ["none.yaml", "cannot read the file"]) { c in
            ["plan", "-c", c.dir.sub("none.yaml")]
        },
        BadInput("config: not UTF-8", exit: 2, ["migration.yaml", "not UTF-8"]) { c in
            try c.sample(); try c.write(Array("meta:\n  mode: \"".utf8) + [0xFF, 0xFE] + Array("\"\n".utf8), to: c.configPath); return plan(c)
        },
        BadInput("key: unknown key", exit: 2, ["meta.sqlitFile", "unknown key"]) { c in
            try c.sample(); try c.config(["meta.sqlitFile": "x"]); return plan(c)
        },
        BadInput("key: wrong type (number)", exit: 2, ["dumper.worker.limit", "whole number"]) { c in
            try c.sample(); try c.config(["dumper.worker.limit": "many"]); return plan(c)
        },
        BadInput("key: wrong type (bool)", exit: 2, ["target.milvus2x.createIndex", "true or false"]) { c in
            try c.sample(); try c.config(["target.milvus2x.createIndex": "maybe"]); return plan(c)
        },
        BadInput("key: password is a list", exit: 2, ["target.milvus2x.password", "list"]) { c in
            try c.sample(); try c.config(["target.milvus2x.password": "[a, \(CorpusSecrets.password)]"]); return plan(c)
        },
        BadInput("key: mysqlUrl is a mapping", exit: 2, ["meta.mysqlUrl", "mapping"]) { c in
            try c.sample(); try c.config(["meta.mysqlUrl": "{root:\(CorpusSecrets.mysqlPassword)@tcp(h:1)/m}"]); return plan(c)
        },
        BadInput("key: keys under sk", exit: 2, ["source.remote.sk", "mapping"]) { c in
            try c.sample(); try c.config(["source.remote.sk.\(CorpusSecrets.secretKey)": "1"], drop: ["source.remote.sk"]); return plan(c)
        },
        BadInput("value: unknown meta.mode", exit: 2, ["meta.mode", "postgres"]) { c in
            try c.sample(); try c.config(["meta.mode": "postgres"]); return plan(c)
        },
        BadInput("value: unknown onExisting", exit: 2, ["target.milvus2x.onExisting", "replace"]) { c in
            try c.sample(); try c.config(["target.milvus2x.onExisting": "replace"]); return plan(c)
        },
        BadInput("value: unsupported workMode", exit: 2, ["dumper.worker.workMode", "milvus3x"]) { c in
            try c.sample(); try c.config(["dumper.worker.workMode": "milvus3x"]); return plan(c)
        },
        BadInput("value: shardsNum out of range", exit: 2, ["target.milvus2x.shardsNum", "out of range"]) { c in
            try c.sample(); try c.config(["target.milvus2x.shardsNum": "99"]); return plan(c)
        },
        BadInput("key: password given twice", exit: 2, ["migration.yaml:", "given twice"]) { c in
            try c.sample()
            try c.config { $0.replacingOccurrences(of: "  password: \(CorpusSecrets.password)\n", with: "  password: \(CorpusSecrets.password)\n    password: \(CorpusSecrets.password)x\n") }
            return plan(c)
        },
        BadInput("key: Password and password", exit: 2, ["password", "given twice"]) { c in
            try c.sample(); try c.config(["target.milvus2x.Password": CorpusSecrets.password + "2"]); return plan(c)
        },
        BadInput("value: unset ${VAR} as the password", exit: 2, ["target.milvus2x.password", "MM_CORPUS_UNSET_VAR"]) { c in
            try c.sample(); try c.config(["target.milvus2x.password": "${MM_CORPUS_UNSET_VAR}"]); return plan(c)
        },
        BadInput("value: a password that contains ${", exit: 2, ["target.milvus2x.password", "not set"]) { c in
            try c.sample(); try c.config(["target.milvus2x.password": CorpusSecrets.password + "${zq}"]); return plan(c)
        },
        BadInput("missing: workMode", exit: 2, ["dumper.worker.workMode", "missing"]) { c in
            try c.sample(); try c.config(drop: ["dumper.worker.workMode"]); return plan(c)
        },
        BadInput("missing: source.mode for plan", exit: 2, ["source.mode", "missing"]) { c in
            try c.sample(); try c.config(drop: ["source.mode"]); return plan(c)
        },
        BadInput("missing: target.mode for dump", exit: 2, ["target.mode", "missing"]) { c in
            try c.sample(); try c.config(drop: ["target.mode"]); return ["dump", "-c", c.configPath, "--quiet"]
        },
        BadInput("missing: endpoint for load", exit: 2, ["target.milvus2x.endpoint", "missing"]) { c in
            try c.sample(); try c.config(drop: ["target.milvus2x.endpoint"]); return ["load", "-c", c.configPath, "--quiet"]
        },
        BadInput("missing: meta.mode for verify", exit: 2, ["meta.mode", "missing"]) { c in
            try c.sample(); try c.config(drop: ["meta.mode"]); return ["verify", "-c", c.configPath]
        },
        BadInput("file: meta.sqliteFile does not exist", exit: 2, ["meta.sqliteFile", "does not exist"]) { c in
            try c.sample(); try c.config(["meta.sqliteFile": c.dir.sub("nope.sqlite")]); return plan(c)
        },
        BadInput("file: tablesDir is a file", exit: 2, ["source.local.tablesDir", "not a folder"]) { c in
            try c.sample(); try c.config(["source.local.tablesDir": c.metaPath]); return plan(c)
        },
        BadInput("value: mysqlUrl is only a password", exit: 2, ["meta.mysqlUrl"]) { c in
            try c.sample(); try c.config(["meta.mode": "mysql", "meta.mysqlUrl": CorpusSecrets.mysqlPassword]); return plan(c)
        },
        BadInput("value: endpoint port is not a number", exit: 2, ["target.milvus2x.endpoint"]) { c in
            try c.sample(); try c.config(["target.milvus2x.endpoint": "127.0.0.1:port"]); return ["start", "-c", c.configPath, "--quiet"]
        },
    ]

    static let metaJSON: [BadInput] = [
        BadInput("meta.json: not JSON", exit: 1, ["{dir}/meta.json", "not valid JSON"]) { c in
            _ = try c.metaJSON("{\"collections\": [ oops"); return plan(c)
        },
        BadInput("meta.json: empty file", exit: 1, ["{dir}/meta.json"]) { c in
            _ = try c.metaJSON(""); return plan(c)
        },
        BadInput("meta.json: top level is an array", exit: 1, ["{dir}/meta.json", "top level"]) { c in
            _ = try c.metaJSON("[]"); return plan(c)
        },
        BadInput("meta.json: collections is an object", exit: 1, ["{dir}/meta.json", "collections"]) { c in
            _ = try c.metaJSON(#"{"collections": {"a": 1}}"#); return plan(c)
        },
        BadInput("meta.json: dim is text", exit: 1, ["{dir}/meta.json", "dim"]) { c in
            _ = try c.metaJSON(#"{"collections": [{"collection": "products", "metric": 1, "dim": "16"}]}"#); return plan(c)
        },
        BadInput("meta.json: rows beyond 64 bits", exit: 1, ["{dir}/meta.json", "rows"]) { c in
            _ = try c.metaJSON(#"{"collections": [{"collection": "products", "metric": 1, "dim": 16, "segments": [{"segment": "1", "rows": 1e30}]}]}"#); return plan(c)
        },
        BadInput("meta.json: negative rows", exit: 1, ["products", "segment '1'", "negative"]) { c in
            _ = try c.metaJSON(#"{"collections": [{"collection": "products", "metric": 1, "dim": 16, "segments": [{"segment": "1", "rows": -5}]}]}"#); return plan(c)
        },
        BadInput("meta.json: rows that add up past 2^63", exit: 1, ["products", "add up"]) { c in
            let segments = (1...30).map { #"{"segment": "\#($0)", "rows": 100000000000000000}"# }.joined(separator: ", ")
            _ = try c.metaJSON(#"{"collections": [{"collection": "products", "metric": 1, "dim": 16, "segments": [\#(segments)]}]}"#); return plan(c)
        },
        BadInput("meta.json: negative dim", exit: 1, ["products", "dimension -8"]) { c in
            _ = try c.metaJSON(#"{"collections": [{"collection": "products", "metric": 1, "dim": -8}]}"#); return plan(c)
        },
        BadInput("meta.json: a FIFO", exit: 1, ["{dir}/meta.json", "not a regular file"]) { c in
            try c.sample(); mkfifo(c.dir.sub("meta.json"), 0o600)
            try c.config(["meta.mode": "local", "meta.localFile": c.dir.sub("meta.json")]); return plan(c)
        },
    ]

    static func export(_ c: CorpusCase) -> [String] { ["export", "-s", c.metaPath, "-o", c.dir.sub("out")] }

    static let sqlite: [BadInput] = [
        BadInput("sqlite: not a database", exit: 1, ["{dir}/db/meta.sqlite", "not a SQLite database"]) { c in
            try FileManager.default.createDirectory(atPath: c.db, withIntermediateDirectories: true)
            try c.write(Array(repeating: 0x5A, count: 4096), to: c.metaPath); return export(c)
        },
        BadInput("sqlite: no Milvus tables", exit: 1, ["{dir}/db/meta.sqlite", "no Milvus 1.x meta"]) { c in
            try FileManager.default.createDirectory(atPath: c.db, withIntermediateDirectories: true)
            try DatabaseQueue(path: c.metaPath).write { try $0.execute(sql: "CREATE TABLE other(x)") }
            return export(c)
        },
        BadInput("sqlite: a FIFO", exit: 1, ["{dir}/db/meta.sqlite", "not a regular file"]) { c in
            try FileManager.default.createDirectory(atPath: c.db, withIntermediateDirectories: true)
            mkfifo(c.metaPath, 0o600); return export(c)
        },
        BadInput("sqlite: the path is a folder", exit: 1, ["{dir}/db", "directory"]) { c in
            try c.sample(); return ["export", "-s", c.db, "-o", c.dir.sub("out")]
        },
        BadInput("sqlite: non-numeric dimension", exit: 1, ["table Tables", "column dimension", "'abc'"]) { c in
            try c.sample(); try c.corruptMeta("UPDATE Tables SET dimension = 'abc' WHERE table_id = 'products'"); return export(c)
        },
        BadInput("sqlite: BLOB table_id", exit: 1, ["table TableFiles", "column table_id", "BLOB"]) { c in
            try c.sample(); try c.corruptMeta("UPDATE TableFiles SET table_id = X'00FF10' WHERE id = (SELECT MIN(id) FROM TableFiles)"); return export(c)
        },
        BadInput("sqlite: NULL owner_table", exit: 1, ["table Tables", "column owner_table", "NULL"]) { c in
            try c.sample(); try c.corruptMeta("UPDATE Tables SET owner_table = NULL WHERE table_id = 'products'"); return export(c)
        },
        BadInput("sqlite: REAL dimension 16.5", exit: 1, ["table Tables", "column dimension", "16.5"]) { c in
            try c.sample(); try c.corruptMeta("UPDATE Tables SET dimension = 16.5 WHERE table_id = 'products'"); return export(c)
        },
        BadInput("sqlite: huge row_count", exit: 1, ["products", "row_count"]) { c in
            try c.sample(); try c.corruptMeta("UPDATE TableFiles SET row_count = 9223372036854775807 WHERE table_id = 'products'"); return export(c)
        },
        BadInput("sqlite: NULL row_count in plan", exit: 1, ["table TableFiles", "column row_count", "NULL"]) { c in
            try c.sample(); try c.config(); try c.corruptMeta("UPDATE TableFiles SET row_count = NULL"); return plan(c)
        },
        BadInput("sqlite: huge text id", exit: 1, ["table Tables", "column id"]) { c in
            try c.sample(); try c.corruptMeta("UPDATE Tables SET id = '99999999999999999999999' WHERE table_id = 'products'"); return export(c)
        },
    ]

    static let segments: [BadInput] = [
        BadInput("segment: truncated .rv", exit: 1, [".rv", "products"]) { c in
            try c.sample(); try c.config()
            let folder = try c.productSegments()[0]
            truncate("\(folder)/\((folder as NSString).lastPathComponent).rv", 20); return plan(c)
        },
        BadInput("segment: truncated .uid", exit: 1, [".uid", "products"]) { c in
            try c.sample(); try c.config()
            let folder = try c.productSegments()[0]
            truncate("\(folder)/\((folder as NSString).lastPathComponent).uid", 12); return plan(c)
        },
        BadInput("segment: missing .rv", exit: 1, ["products"]) { c in
            try c.sample(); try c.config()
            let folder = try c.productSegments()[0]
            try FileManager.default.removeItem(atPath: "\(folder)/\((folder as NSString).lastPathComponent).rv"); return plan(c)
        },
        BadInput("segment: meta row_count above the files' rows", exit: 1, ["products"]) { c in
            try c.sample(); try c.config()
            let segment = (try c.productSegments()[1] as NSString).lastPathComponent
            try DatabaseQueue(path: c.metaPath).write { try $0.execute(sql: "UPDATE TableFiles SET row_count = 25 WHERE segment_id = '\(segment)'") }
            return plan(c)
        },
        BadInput("segment: meta dimension differs from the files", exit: 1, ["products"]) { c in
            try c.sample(); try c.config()
            try DatabaseQueue(path: c.metaPath).write { try $0.execute(sql: "UPDATE Tables SET dimension = 32 WHERE table_id = 'products' OR owner_table = 'products'") }
            return plan(c)
        },
        BadInput("segment: deleted_docs unsorted with an out-of-range offset (documented: warned, ignored)", exit: 0, ["deleted_docs", "outside"]) { c in
            try c.sample(); try c.config()
            let folder = try c.productSegments()[1]
            var bytes: [UInt8] = []
            withUnsafeBytes(of: UInt64(12).littleEndian) { bytes += $0 }
            for offset: Int32 in [7, 999_999, 2] { withUnsafeBytes(of: offset.littleEndian) { bytes += $0 } }
            try c.write(bytes, to: "\(folder)/deleted_docs")
            let segment = (folder as NSString).lastPathComponent
            try DatabaseQueue(path: c.metaPath).write { try $0.execute(sql: "UPDATE TableFiles SET row_count = 18 WHERE segment_id = '\(segment)'") }
            return plan(c)
        },
        BadInput("segment: deleted_docs header larger than the file", exit: 1, ["deleted_docs"]) { c in
            try c.sample(); try c.config()
            let folder = try c.productSegments()[1]
            var bytes: [UInt8] = []
            withUnsafeBytes(of: UInt64(4000).littleEndian) { bytes += $0 }
            withUnsafeBytes(of: Int32(1).littleEndian) { bytes += $0 }
            try c.write(bytes, to: "\(folder)/deleted_docs")
            return plan(c)
        },
    ]

    static let arguments: [BadInput] = [
        BadInput("cli: sample --segments -2", exit: 2, ["--segments"]) { c in
            ["sample", "-o", c.db, "--bench-collections", "1", "--segments=-2"]
        },
        BadInput("cli: sample --dim -8", exit: 2, ["--dim"]) { c in
            ["sample", "-o", c.db, "--bench-collections", "1", "--dim=-8"]
        },
        BadInput("cli: sample --rows 0", exit: 2, ["--rows"]) { c in ["sample", "-o", c.db, "--rows", "0"] },
        BadInput("cli: sample --rows ten", exit: 2, ["--rows"]) { c in ["sample", "-o", c.db, "--rows", "ten"] },
        BadInput("cli: sample --bench-collections -1", exit: 2, ["--bench-collections"]) { c in
            ["sample", "-o", c.db, "--bench-collections=-1"]
        },
        BadInput("cli: sample --segments without --bench-collections", exit: 2, ["--bench-collections"]) { c in
            ["sample", "-o", c.db, "--segments", "3"]
        },
        BadInput("cli: verify --sample 0", exit: 2, ["--sample"]) { c in
            try c.sample(); try c.config(); return ["verify", "-c", c.configPath, "--sample", "0"]
        },
        BadInput("cli: verify --sample past the bound", exit: 2, ["--sample"]) { c in
            try c.sample(); try c.config(); return ["verify", "-c", c.configPath, "--sample", "9223372036854775807"]
        },
        BadInput("cli: verify --full with --sample", exit: 2, ["--sample", "--full"]) { c in
            try c.sample(); try c.config(); return ["verify", "-c", c.configPath, "--full", "--sample", "5"]
        },
        BadInput("cli: unknown --col", exit: 2, ["--col", "nope"]) { c in
            try c.sample(); try c.config(); return ["plan", "-c", c.configPath, "--col", "products,nope"]
        },
        BadInput("cli: unknown option", exit: 2, ["--bogus"]) { c in
            try c.sample(); try c.config(); return ["plan", "-c", c.configPath, "--bogus"]
        },
        BadInput("cli: bad --log-level", exit: 2, ["--log-level"]) { c in
            try c.sample(); try c.config(); return ["plan", "-c", c.configPath, "--log-level", "loud"]
        },
        BadInput("cli: export without -s or -m", exit: 2, ["export needs the 1.x meta"]) { c in ["export", "-o", c.dir.sub("out")] },
        BadInput("cli: export -m that is only a password", exit: 2, ["-m"]) { c in
            ["export", "-m", CorpusSecrets.mysqlPassword, "-o", c.dir.sub("out")]
        },
        BadInput("cli: sample --segments -2 (read as a missing value)", exit: 2, ["--segments"]) { c in
            ["sample", "-o", c.db, "--bench-collections", "1", "--segments", "-2"]
        },
        BadInput("cli: --report is a folder", exit: 1, ["{dir}/staged"]) { c in
            try c.sample(); try c.config()
            try FileManager.default.createDirectory(atPath: c.dir.sub("staged"), withIntermediateDirectories: true)
            return ["plan", "-c", c.configPath, "--report", c.dir.sub("staged")]
        },
    ]

    static let mysql: [BadInput] = [
        BadInput("mysql: unreachable port", needs: .mariadb, exit: 1, ["mysql://root@127.0.0.1:1/milvus", "cannot reach"]) { c in
            ["export", "-m", "root:\(CorpusSecrets.mysqlPassword)@tcp(127.0.0.1:1)/milvus?timeout=5s", "-o", c.dir.sub("out")]
        },
        BadInput("mysql: wrong password", needs: .mariadb, exit: 1, ["refused the login"]) { c in
            let dsn = try MariaDBTestServer.goDSN("mysql", password: CorpusSecrets.mysqlPassword, params: "")
            return ["export", "-m", dsn, "-o", c.dir.sub("out")]
        },
        BadInput("mysql: unknown database", needs: .mariadb, exit: 1, ["no database", "mm_corpus_nope"]) { c in
            ["export", "-m", try MariaDBTestServer.goDSN("mm_corpus_nope", params: ""), "-o", c.dir.sub("out")]
        },
        BadInput("mysql: non-numeric dimension", needs: .mariadb, exit: 1, ["table Tables", "column dimension", "'abc'"]) { c in
            try c.sample()
            let scratch = try ScratchDatabase(milvusMetaFrom: c.metaPath)
            c.keep.append(scratch)
            try scratch.execute("ALTER TABLE `\(scratch.name)`.Tables MODIFY dimension VARCHAR(20)")
            try scratch.execute("UPDATE `\(scratch.name)`.Tables SET dimension = 'abc' WHERE table_id = 'products'")
            return ["export", "-m", try MariaDBTestServer.goDSN(scratch.name), "-o", c.dir.sub("out")]
        },
        BadInput("mysql: REAL row_count 16.5", needs: .mariadb, exit: 1, ["table TableFiles", "column row_count", "16.5"]) { c in
            try c.sample()
            let scratch = try ScratchDatabase(milvusMetaFrom: c.metaPath)
            c.keep.append(scratch)
            try scratch.execute("ALTER TABLE `\(scratch.name)`.TableFiles MODIFY row_count DOUBLE")
            try scratch.execute("UPDATE `\(scratch.name)`.TableFiles SET row_count = 16.5")
            return ["export", "-m", try MariaDBTestServer.goDSN(scratch.name), "-o", c.dir.sub("out")]
        },
        BadInput("mysql: plan with a wrong password in meta.mysqlUrl", needs: .mariadb, exit: 1, ["refused the login"]) { c in
            try c.sample()
            try c.config(["meta.mode": "mysql", "meta.mysqlUrl": try MariaDBTestServer.goDSN("milvus", password: CorpusSecrets.mysqlPassword, params: "")])
            return plan(c)
        },
    ]

    static let milvus: [BadInput] = [
        BadInput("milvus: wrong password", needs: .milvusAuth, exit: 1, [MilvusTestEnv.endpoint]) { c in
            try c.sample(); try c.config(); return ["start", "-c", c.configPath, "--quiet"]
        },
        BadInput("milvus: unreachable endpoint", needs: .milvus, exit: 1, ["127.0.0.1:1"]) { c in
            try c.sample(); try c.config(["target.milvus2x.endpoint": "127.0.0.1:1"]); return ["start", "-c", c.configPath, "--quiet"]
        },
        BadInput("milvus: start with a truncated segment", needs: .milvus, exit: 1, [".rv"]) { c in
            try c.sample(); try c.milvusConfig()
            let folder = try c.productSegments()[0]
            truncate("\(folder)/\((folder as NSString).lastPathComponent).rv", 20); return ["start", "-c", c.configPath, "--quiet"]
        },
        BadInput("milvus: start with an unknown --col", needs: .milvus, exit: 2, ["--col", "nope"]) { c in
            try c.sample(); try c.milvusConfig(); return ["start", "-c", c.configPath, "--quiet", "--col", "nope"]
        },
        BadInput("milvus: start with a meta.json that has a negative row count", needs: .milvus, exit: 1, ["negative"]) { c in
            try c.sample()
            try #"{"collections": [{"collection": "products", "metric": 1, "dim": 16, "segments": [{"segment": "1", "rows": -5}]}]}"#
                .write(toFile: c.dir.sub("meta.json"), atomically: true, encoding: .utf8)
            try c.milvusConfig(["meta.mode": "local", "meta.localFile": c.dir.sub("meta.json")])
            return ["start", "-c", c.configPath, "--quiet"]
        },
    ]

    static let offline = config + metaJSON + sqlite + segments + arguments
    static let all = offline + mysql + milvus
}

@Suite struct BadInputCorpusTests {
    @Test func theCorpusHasAtLeastFortyCases() {
        #expect(BadInputCorpus.all.count >= 40)
        #expect(Set(BadInputCorpus.all.map(\.name)).count == BadInputCorpus.all.count)
    }

    @Test(arguments: BadInputCorpus.offline)
    func offline(_ input: BadInput) async throws {
        try await check(input)
    }

    @Test(.enabled(if: MariaDBTestServer.enabled, "needs the MariaDB of scripts/test.sh"), arguments: BadInputCorpus.mysql)
    func mysql(_ input: BadInput) async throws {
        try await check(input)
    }

    @Test(.enabled(if: milvusUp, "needs the Milvus of scripts/test.sh"), arguments: BadInputCorpus.milvus)
    func milvus(_ input: BadInput) async throws {
        if input.needs == .milvusAuth && !MilvusTestEnv.authEnabled { return }
        try await check(input)
    }

    func check(_ input: BadInput) async throws {
        let c = CorpusCase()
        let arguments = try input.make(c)
        var full = arguments
        let reporting = ["dump", "load", "start", "verify"].contains(arguments.first ?? "") && !arguments.contains("--report")
        if reporting { full += ["--report", c.dir.sub("report.json")] }
        let result = try await runBounded(full)
        #expect(!result.timedOut, "\(input.name): did not finish within the time limit")
        #expect(result.status == input.exit, "\(input.name): exit \(result.status), stderr: \(result.err)")
        // An error names its subject on stderr; a documented warning may sit in the plan on stdout.
        let said = input.exit == 0 ? result.out + result.err : result.err
        for mention in input.mentions.map({ $0.replacingOccurrences(of: "{dir}", with: c.dir.path) }) {
            #expect(said.contains(mention), "\(input.name): output does not name '\(mention)': \(said)")
        }
        if input.exit != 0 {
            #expect(result.err.lowercased().contains("error"), "\(input.name): no error line: \(result.err)")
            #expect(!result.err.contains("Fatal error") && !result.err.contains("Stack dump"), "\(input.name): crashed: \(result.err)")
        }
        // No secret in stdout, stderr, or any file the run wrote (staging, journal, report, export).
        var outputs = [("stdout", result.out), ("stderr", result.err)]
        for folder in ["staged", "out"] {
            let root = c.dir.sub(folder)
            for path in FileManager.default.subpaths(atPath: root) ?? [] {
                if let data = FileManager.default.contents(atPath: "\(root)/\(path)") { outputs.append((path, String(decoding: data, as: UTF8.self))) }
            }
        }
        if let report = FileManager.default.contents(atPath: c.dir.sub("report.json")) { outputs.append(("report.json", String(decoding: report, as: UTF8.self))) }
        for (what, text) in outputs {
            for secret in c.secrets {
                #expect(!text.contains(secret), "\(input.name): \(what) shows a secret")
            }
        }
        // Nothing was created in Milvus under this case's names.
        if milvusUp && ["load", "start"].contains(arguments.first ?? "") {
            let names = c.targetNames
            try await MilvusClient.with(try MilvusTestEnv.options()) { (client: MilvusClient) async throws -> Void in
                for name in names {
                    #expect(try await client.hasCollection(name) == false, "\(input.name): collection \(name) was created")
                }
            }
        }
        withExtendedLifetime(c) {}
    }
}
