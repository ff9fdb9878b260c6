import Foundation
import Testing
@testable import MilvusMigration

/// Every secret key through every config error path: the error names the file (with line and
/// column for YAML problems) and the key, never any part of the secret value.
@Suite struct ConfigSecretTests {
    static let secret = "Zx9-SECRET-q7Lw"
    static let secretKeys = ["target.milvus2x.password", "meta.mysqlUrl", "source.remote.ak", "source.remote.sk",
                             "target.remote.ak", "target.remote.sk"]

    /// A config with `key` set to the raw YAML `value` (and `extra` lines at the end).
    static func yaml(_ key: String, _ value: String, extra: String = "") -> String {
        let parts = key.split(separator: ".").map(String.init)
        var text = "dumper:\n  worker:\n    workMode: milvus1x\n"
        var indent = ""
        for part in parts.dropLast() {
            text += "\(indent)\(part):\n"
            indent += "  "
        }
        text += "\(indent)\(parts.last!): \(value)\n"
        return text + extra
    }

    /// The ways a secret's line can be wrong; each must fail without showing the value.
    static let breakages: [(String, @Sendable (String, String) -> String)] = [
        ("unquoted @", { key, s in yaml(key, "@\(s)") }),
        ("unquoted backtick", { key, s in yaml(key, "`\(s)") }),
        ("': ' inside", { key, s in yaml(key, "\(s): more") }),
        ("unclosed double quote", { key, s in yaml(key, "\"\(s)") }),
        ("unclosed single quote", { key, s in yaml(key, "'\(s)") }),
        ("unclosed flow list", { key, s in yaml(key, "[\(s)") }),
        ("unclosed flow mapping", { key, s in yaml(key, "{\(s)") }),
        ("bad indentation after", { key, s in yaml(key, s, extra: "   stray: [\n") }),
        ("control character", { key, s in yaml(key, "\(s)\u{07}") }),
        ("tab-indented next line", { key, s in yaml(key, s, extra: "\t\(s): x\n") }),
        ("a list", { key, s in yaml(key, "[a, \(s)]") }),
        ("a flow mapping", { key, s in yaml(key, "{\(s): 1}") }),
        ("a nested key", { key, s in yaml(key, "\n" + String(repeating: "  ", count: key.split(separator: ".").count) + "\(s): 1") }),
        ("a block list", { key, s in yaml(key, "\n" + String(repeating: "  ", count: key.split(separator: ".").count) + "- \(s)") }),
        ("an alias", { key, s in yaml(key, "*\(s)") }),
        ("an anchor", { key, s in yaml(key, "&a \(s)", extra: "other: *a\n") }),
        ("unset ${VAR} inside", { key, s in yaml(key, "\(s)${MM_NOT_SET_VAR}") }),
        ("given twice", { key, s in let t = yaml(key, s); return t + t.split(separator: "\n").last! + "2\n" }),
        ("given twice in another case", { key, s in
            let t = yaml(key, s)
            let last = String(t.split(separator: "\n").last!)
            let name = key.split(separator: ".").last!
            return t + last.replacingOccurrences(of: "\(name):", with: "\(name.uppercased()):") + "2\n"
        }),
        ("a misspelled key", { key, s in yaml(key + "x", s) }),
        ("a second document", { key, s in yaml(key, s, extra: "---\n\(s): 1\n") }),
    ]

    @Test(arguments: secretKeys)
    func noErrorShowsTheSecret(key: String) throws {
        for (name, make) in Self.breakages {
            let text = make(key, Self.secret)
            do {
                _ = try MigrationConfig.parse(text, file: "cfg/migration.yaml", environment: [:])
                Issue.record("\(key) \(name): accepted:\n\(text)")
            } catch let error as MigrationError {
                let shown = "\(error) \(String(reflecting: error)) \(error.localizedDescription)"
                #expect(!shown.contains(Self.secret), "\(key) \(name): \(shown)")
                #expect(!shown.contains("SECRET"), "\(key) \(name): part of the secret shown: \(shown)")
                #expect(shown.contains("cfg/migration.yaml"), "\(key) \(name): \(shown)")
            }
        }
    }

    /// A syntax error names file:line:column and libyaml's problem, not the line.
    @Test func syntaxErrorNamesLineAndColumn() throws {
        let text = Self.yaml("target.milvus2x.password", "@\(Self.secret)")
        #expect {
            _ = try MigrationConfig.parse(text, file: "m.yaml")
        } throws: { error in
            "\(error)".hasPrefix("m.yaml:6:15: not valid YAML: ") && !"\(error)".contains(Self.secret)
        }
    }

    /// The DSN check of meta.mysqlUrl does not show it either.
    @Test func badMySQLURLIsNotShown() throws {
        for url in [Self.secret, "\(Self.secret)@tcp(h:1", "u:\(Self.secret)@tcp(h:99999)/m", "u:\(Self.secret)@tcp(h:1)/m?tls=maybe"] {
            let text = "dumper:\n  worker:\n    workMode: milvus1x\nmeta:\n  mode: mysql\n  mysqlUrl: '\(url)'\n"
            let config = try MigrationConfig.parse(text, file: "m.yaml")
            #expect(throws: MigrationError.self) { try config.validate(.meta) }
            do { try config.validate(.meta) } catch {
                #expect(!"\(error)".contains(Self.secret) && "\(error)".contains("meta.mysqlUrl"), "\(error)")
            }
        }
    }

    /// The issue's 600-byte config of nested anchors: refused at once, nothing expanded.
    @Test func nestedAnchorsAreRefusedBeforeExpansion() throws {
        var text = "dumper:\n  worker:\n    workMode: milvus1x\n"
        text += "a0: &a0 {" + (0..<9).map { "k\($0): lol" }.joined(separator: ", ") + "}\n"
        for i in 1...9 { text += "a\(i): &a\(i) {" + (0..<9).map { "k\($0): *a\(i - 1)" }.joined(separator: ", ") + "}\n" }
        #expect(text.utf8.count < 1000)
        let start = ContinuousClock.now
        #expect {
            _ = try MigrationConfig.parse(text, file: "m.yaml")
        } throws: { error in
            "\(error)".hasPrefix("m.yaml:4:5: ") && "\(error)".contains("anchors")
        }
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    @Test func oversizedAndSpecialFilesAreRefused() throws {
        let dir = TempDir()
        let big = dir.sub("big.yaml")
        try Data(("dumper:\n  worker:\n    workMode: milvus1x\n# " + String(repeating: "x", count: MigrationConfig.maxFileBytes)).utf8).write(to: URL(fileURLWithPath: big))
        #expect { _ = try MigrationConfig.load(path: big) } throws: { "\($0)".contains("at most 1 MiB") }
        let fifo = dir.sub("fifo.yaml")
        mkfifo(fifo, 0o600)
        #expect { _ = try MigrationConfig.load(path: fifo) } throws: { "\($0)".contains("not a regular file") }
        #expect { _ = try MigrationConfig.load(path: dir.path) } throws: { "\($0)".contains("a folder") }
    }
}
