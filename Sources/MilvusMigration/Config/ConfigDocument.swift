import CYaml
import Foundation
import Yams

/// A `migration.yaml` flattened to dotted key paths, matched case-insensitively like the reference
/// tool (viper lower-cases keys). `${VAR}` and `${VAR:-default}` in values expand from the
/// environment. Every lookup records the key so unknown keys can be reported.
struct ConfigDocument {
    struct Entry {
        /// The key path as written in the file (original case), for messages.
        var path: String
        var value: Value
    }

    enum Value {
        case scalar(String)
        /// A mapping kept whole (e.g. `target.milvus2x.collections`), with case-sensitive keys.
        case map([(String, String)])
        case null
    }

    let file: String
    private(set) var entries: [String: Entry] = [:]

    /// Key paths whose value is a user-defined mapping, not more config keys.
    static let mapKeys: Set<String> = ["target.milvus2x.collections"]

    /// Key paths whose value is a credential: errors never show any part of their value.
    static let secretKeys: Set<String> = [
        "target.milvus2x.password", "target.milvus2x.token", "meta.mysqlurl",
        "source.remote.ak", "source.remote.sk", "target.remote.ak", "target.remote.sk",
    ]

    init(file: String, text: String, environment: [String: String]) throws {
        self.file = file
        // Syntax errors, anchors and aliases are found on libyaml's event stream first, so no
        // node tree is built from a document that could expand (and no error echoes a line).
        try ConfigDocument.preflight(text, file: file)
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigDocument.describe(error, file: file)
        } catch {
            throw MigrationError.config(file: file, key: "", message: "not valid YAML")
        }
        guard let node else { return }
        guard case .mapping = node else {
            throw MigrationError.config(file: file, key: "", message: "expected a mapping of keys at the top level")
        }
        try flatten(node, prefix: "", original: "", environment: environment)
    }

    private mutating func flatten(_ node: Node, prefix: String, original: String, environment: [String: String]) throws {
        if !prefix.isEmpty, MigrationConfig.knownKeys.contains(prefix), !ConfigDocument.mapKeys.contains(prefix) {
            switch node {
            case .mapping:
                throw MigrationError.config(file: file, key: original, message: "expected a single value, got a mapping (quote the value if it contains ': ')")
            case .sequence:
                throw MigrationError.config(file: file, key: original, message: "expected a single value, got a list")
            default:
                break
            }
        }
        switch node {
        case .mapping(let mapping):
            if ConfigDocument.mapKeys.contains(prefix) {
                var pairs: [(String, String)] = []
                for (key, value) in mapping {
                    guard let k = key.string, let v = value.string else {
                        throw MigrationError.config(file: file, key: original, message: "expected a mapping of names to names")
                    }
                    pairs.append((k, try expand(v, key: "\(original).\(k)", environment: environment)))
                }
                try insert(prefix, Entry(path: original, value: .map(pairs)))
                return
            }
            for (key, value) in mapping {
                guard let name = key.string, !name.isEmpty else {
                    throw MigrationError.config(file: file, key: original, message: "keys must be plain strings")
                }
                let lower = prefix.isEmpty ? name.lowercased() : "\(prefix).\(name.lowercased())"
                let path = original.isEmpty ? name : "\(original).\(name)"
                try flatten(value, prefix: lower, original: path, environment: environment)
            }
        case .scalar(let scalar):
            if scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
                try insert(prefix, Entry(path: original, value: .null))
            } else {
                try insert(prefix, Entry(path: original, value: .scalar(try expand(scalar.string, key: original, environment: environment))))
            }
        case .sequence:
            throw MigrationError.config(file: file, key: original, message: "lists are not supported here; expected a single value")
        case .alias:
            throw MigrationError.config(file: file, key: original, message: "YAML aliases are not supported")
        }
    }

    private mutating func insert(_ key: String, _ entry: Entry) throws {
        if let existing = entries[key] {
            throw MigrationError.config(file: file, key: entry.path, message: "given twice (also as '\(existing.path)'; keys are case-insensitive)")
        }
        entries[key] = entry
    }

    /// Expands `${NAME}` and `${NAME:-default}`; `$$` is a literal `$`.
    private func expand(_ text: String, key: String, environment: [String: String]) throws -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let after = rest.index(after: dollar)
            if after < rest.endIndex, rest[after] == "$" {
                out += "$"
                rest = rest[rest.index(after: after)...]
                continue
            }
            guard after < rest.endIndex, rest[after] == "{", let close = rest[after...].firstIndex(of: "}") else {
                out += "$"
                rest = rest[after...]
                continue
            }
            let body = rest[rest.index(after: after)..<close]
            let name: Substring
            var fallback: Substring?
            if let sep = body.range(of: ":-") {
                name = body[..<sep.lowerBound]
                fallback = body[sep.upperBound...]
            } else {
                name = body
            }
            if let value = environment[String(name)], !value.isEmpty {
                out += value
            } else if let fallback {
                out += fallback
            } else if ConfigDocument.secretKeys.contains(key.lowercased()) && text != "${\(name)}" {
                // The text may be a literal credential that happens to contain "${": name nothing of it.
                throw MigrationError.config(file: file, key: key, message: "the value refers to an environment variable that is not set (its name is not shown because the value is secret; write $$ for a literal $)")
            } else {
                throw MigrationError.config(file: file, key: key, message: "environment variable \(name) is not set (referenced as ${\(name)})")
            }
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return out
    }

    // MARK: Syntax check without expansion

    /// One pass over libyaml's parser events (constant memory, nothing built): refuses anchors,
    /// aliases and multi-document files, and reports a syntax error as file:line:column with
    /// libyaml's problem text only (Yams' own message quotes the source line, which may hold a
    /// credential).
    static func preflight(_ text: String, file: String) throws {
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else {
            throw MigrationError.config(file: file, key: "", message: "cannot start the YAML parser (out of memory)")
        }
        defer { yaml_parser_delete(parser) }
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes = [0x0A] }
        try bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
            var documents = 0
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(parser, &event) == 1 else {
                    let p = parser.pointee
                    let problem = p.problem.map { String(cString: $0) } ?? "syntax error"
                    let context = p.context.map { " (\(String(cString: $0)) at line \(p.context_mark.line + 1))" } ?? ""
                    throw MigrationError.config(file: "\(file):\(p.problem_mark.line + 1):\(p.problem_mark.column + 1)", key: "",
                                                message: "not valid YAML: \(problem)\(context)")
                }
                defer { yaml_event_delete(&event) }
                let mark = event.start_mark
                let at = "\(file):\(mark.line + 1):\(mark.column + 1)"
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_DOCUMENT_START_EVENT:
                    documents += 1
                    if documents > 1 {
                        throw MigrationError.config(file: at, key: "", message: "a second YAML document ('---'); migration.yaml holds one")
                    }
                case YAML_ALIAS_EVENT:
                    throw MigrationError.config(file: at, key: "", message: "YAML aliases (*name) are not supported; write the value out")
                case YAML_SCALAR_EVENT where event.data.scalar.anchor != nil,
                     YAML_SEQUENCE_START_EVENT where event.data.sequence_start.anchor != nil,
                     YAML_MAPPING_START_EVENT where event.data.mapping_start.anchor != nil:
                    throw MigrationError.config(file: at, key: "", message: "YAML anchors (&name) are not supported; write the value out")
                default:
                    break
                }
            }
        }
    }

    /// A Yams error as file:line:column and the problem, without the source snippet.
    static func describe(_ error: YamlError, file: String) -> MigrationError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return .config(file: "\(file):\(mark.line):\(mark.column)", key: "", message: "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(_, let context):
            // The key text is not shown: in a mistyped file it may be a credential.
            return .config(file: "\(file):\(context.mark.line):\(context.mark.column)", key: "", message: "this key is given twice in the same mapping")
        case .reader(let problem, _, _, _):
            return .config(file: file, key: "", message: "not valid YAML: \(problem)")
        default:
            return .config(file: file, key: "", message: "not valid YAML")
        }
    }

    // MARK: Typed access

    func has(_ key: String) -> Bool {
        if case .scalar? = entries[key]?.value { return true }
        if case .map? = entries[key]?.value { return true }
        return false
    }

    /// The key as the user wrote it, or the canonical spelling.
    func displayKey(_ key: String, canonical: String) -> String { entries[key]?.path ?? canonical }

    func string(_ key: String, _ canonical: String) -> String? {
        guard case .scalar(let s)? = entries[key]?.value else { return nil }
        let trimmed = s.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : s
    }

    func int(_ key: String, _ canonical: String, range: ClosedRange<Int>? = nil) throws -> Int? {
        guard let text = string(key, canonical) else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw MigrationError.config(file: file, key: displayKey(key, canonical: canonical), message: "expected a whole number, got '\(text)'")
        }
        if let range, !range.contains(value) {
            throw MigrationError.config(file: file, key: displayKey(key, canonical: canonical), message: "\(value) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    func double(_ key: String, _ canonical: String) throws -> Double? {
        guard let text = string(key, canonical) else { return nil }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite, value >= 0 else {
            throw MigrationError.config(file: file, key: displayKey(key, canonical: canonical), message: "expected a non-negative number, got '\(text)'")
        }
        return value
    }

    func bool(_ key: String, _ canonical: String) throws -> Bool? {
        guard let text = string(key, canonical) else { return nil }
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default:
            throw MigrationError.config(file: file, key: displayKey(key, canonical: canonical), message: "expected true or false, got '\(text)'")
        }
    }

    func choice<T: RawRepresentable>(_ key: String, _ canonical: String, _ type: T.Type) throws -> T? where T.RawValue == String, T: CaseIterable {
        guard let text = string(key, canonical) else { return nil }
        let normalized = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let value = T.allCases.first(where: { $0.rawValue.lowercased() == normalized }) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw MigrationError.config(file: file, key: displayKey(key, canonical: canonical), message: "unknown value '\(text)' (expected one of: \(allowed))")
        }
        return value
    }

    func map(_ key: String) -> [(String, String)]? {
        guard case .map(let pairs)? = entries[key]?.value else { return nil }
        return pairs
    }

    /// Keys present in the file that are not in `known` (lower-case paths).
    func unknownKeys(known: Set<String>, ignoredPrefixes: [String]) -> [String] {
        entries.keys
            .filter { key in !known.contains(key) && !ignoredPrefixes.contains { key.hasPrefix($0) } }
            .map { entries[$0]!.path }
            .sorted()
    }
}
