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

    init(file: String, text: String, environment: [String: String]) throws {
        self.file = file
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw MigrationError.config(file: file, key: "", message: "not valid YAML: \(error)")
        } catch {
            throw MigrationError.config(file: file, key: "", message: "not valid YAML: \(error)")
        }
        guard let node else { return }
        guard case .mapping = node else {
            throw MigrationError.config(file: file, key: "", message: "expected a mapping of keys at the top level")
        }
        try flatten(node, prefix: "", original: "", environment: environment)
    }

    private mutating func flatten(_ node: Node, prefix: String, original: String, environment: [String: String]) throws {
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
            } else {
                throw MigrationError.config(file: file, key: key, message: "environment variable \(name) is not set (referenced as ${\(name)})")
            }
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return out
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
