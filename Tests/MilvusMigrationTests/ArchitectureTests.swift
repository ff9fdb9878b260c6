import Foundation
import Testing

/// The library's top-level folders (`Sources/MilvusMigration/<Folder>/…`) are its layers. This
/// suite reads the sources and checks the rules the layout promises (docs: README "Layout"):
/// - the folders depend on each other without a cycle;
/// - `Support/` depends on no other folder, `Storage/` on `Support/` only;
/// - only `Config/` mentions `MigrationConfig`: Config is the outermost layer, it maps
///   `migration.yaml` onto the options of the other folders.
///
/// A folder depends on another when one of its files mentions (whole word, outside comments and
/// string literals) a name the other folder declares at file level: a type, a typealias, a
/// function or a constant. A file in a sub-folder belongs to its top folder. The folder list is
/// discovered, so a new folder is checked by the same rules.
@Suite struct ArchitectureTests {
    /// `Sources/MilvusMigration`, found from this file's path.
    static let library = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/MilvusMigration")

    struct ScannedFile {
        var folder: String
        var path: String
        /// The text with comments and string literals' contents removed.
        var code: String
    }

    struct Graph {
        var files: [ScannedFile] = []
        /// Name declared at file level → the folders declaring it.
        var owners: [String: Set<String>] = [:]
        /// folder → folder it depends on → why (`file: name`, first few).
        var edges: [String: [String: [String]]] = [:]
        var folders: [String] { Array(Set(files.map(\.folder))).sorted() }
    }

    static func load(_ root: URL = library) throws -> Graph {
        var graph = Graph()
        let base = root.standardizedFileURL.path
        for relative in try FileManager.default.subpathsOfDirectory(atPath: base) where relative.hasSuffix(".swift") {
            let parts = relative.split(separator: "/")
            // A file directly in Sources/MilvusMigration belongs to no folder; there is none today.
            let folder = parts.count > 1 ? String(parts[0]) : "(top)"
            let text = try String(contentsOfFile: base + "/" + relative, encoding: .utf8)
            graph.files.append(ScannedFile(folder: folder, path: relative, code: strip(text)))
        }
        graph.files.sort { $0.path < $1.path }
        for file in graph.files {
            for name in declarations(file.code) { graph.owners[name, default: []].insert(file.folder) }
        }
        for file in graph.files {
            for word in Set(identifiers(file.code)).sorted() {
                for owner in graph.owners[word] ?? [] where owner != file.folder {
                    var why = graph.edges[file.folder, default: [:]][owner, default: []]
                    if why.count < 4 { why.append("\(file.path): \(word)") }
                    graph.edges[file.folder, default: [:]][owner] = why
                }
            }
        }
        return graph
    }

    /// Removes comments (line, nested block) and the contents of string literals (plain,
    /// multi-line, raw), keeping the code of interpolations `\(…)`.
    static func strip(_ text: String) -> String {
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        enum Mode { case code(parens: Int), string(multiline: Bool, hashes: Int) }
        var stack: [Mode] = [.code(parens: 0)]
        func at(_ i: Int, _ literal: String) -> Bool {
            let l = Array(literal.unicodeScalars)
            guard i + l.count <= s.count else { return false }
            for k in 0..<l.count where s[i + k] != l[k] { return false }
            return true
        }
        var i = 0
        while i < s.count {
            switch stack[stack.count - 1] {
            case .code(let parens):
                if at(i, "//") {
                    while i < s.count && s[i] != "\n" { i += 1 }
                    continue
                }
                if at(i, "/*") {
                    var depth = 0
                    repeat {
                        if at(i, "/*") { depth += 1; i += 2 } else if at(i, "*/") { depth -= 1; i += 2 } else { i += 1 }
                    } while depth > 0 && i < s.count
                    out.append(" ")
                    continue
                }
                var hashes = 0
                while i + hashes < s.count && s[i + hashes] == "#" { hashes += 1 }
                if i + hashes < s.count && s[i + hashes] == "\"" {
                    let multiline = at(i + hashes, "\"\"\"")
                    i += hashes + (multiline ? 3 : 1)
                    stack.append(.string(multiline: multiline, hashes: hashes))
                    out.append("\"")
                    continue
                }
                if stack.count > 1 {
                    // Inside an interpolation: its closing parenthesis returns to the string.
                    if s[i] == "(" { stack[stack.count - 1] = .code(parens: parens + 1) }
                    if s[i] == ")" {
                        if parens == 0 {
                            stack.removeLast()
                            i += 1
                            continue
                        }
                        stack[stack.count - 1] = .code(parens: parens - 1)
                    }
                }
                out.append(s[i])
                i += 1
            case .string(let multiline, let hashes):
                let pounds = String(repeating: "#", count: hashes)
                let closing = (multiline ? "\"\"\"" : "\"") + pounds
                if at(i, closing) {
                    i += closing.unicodeScalars.count
                    stack.removeLast()
                    out.append("\"")
                    continue
                }
                if at(i, "\\" + pounds) {
                    let next = i + 1 + hashes
                    if next < s.count && s[next] == "(" {
                        stack.append(.code(parens: 0))
                        i = next + 1
                        continue
                    }
                    i = next + 1
                    continue
                }
                if s[i] == "\n" { out.append("\n") }
                i += 1
            }
        }
        return String(out)
    }

    static let declarationPattern = (#"^\s*(?:@[A-Za-z_]+(?:\([^)]*\))?\s+)*(?:(?:public|internal|fileprivate|private|package|open|final|indirect|nonisolated|nonisolated\(unsafe\))\s+)*(?:struct|class|enum|protocol|actor|typealias|func|let|var)\s+([A-Za-z_][A-Za-z0-9_]*)"#)

    /// The names declared at file level (brace depth 0) in stripped code; extensions declare none.
    static func declarations(_ code: String) -> [String] {
        let declaration = try! Regex(declarationPattern)
        var names: [String] = []
        var depth = 0
        for line in code.split(separator: "\n", omittingEmptySubsequences: false) {
            if depth == 0, let match = try? declaration.firstMatch(in: String(line)), let name = match.output[1].substring {
                names.append(String(name))
            }
            for c in line {
                if c == "{" { depth += 1 } else if c == "}" { depth -= 1 }
            }
        }
        return names
    }

    static func identifiers(_ code: String) -> [String] {
        code.split { !($0.isLetter || $0.isNumber || $0 == "_") }.map(String.init).filter { !$0.first!.isNumber }
    }

    /// One cycle (first folder repeated at the end) per group of folders that depend on each
    /// other (strongly connected component), or none.
    static func cycles(_ edges: [String: [String: [String]]]) -> [(group: [String], cycle: [String])] {
        let nodes = Set(edges.keys).union(edges.values.flatMap(\.keys)).sorted()
        func reachable(from start: String) -> Set<String> {
            var seen: Set<String> = [start]
            var todo = [start]
            while let node = todo.popLast() {
                for next in (edges[node] ?? [:]).keys where seen.insert(next).inserted { todo.append(next) }
            }
            return seen
        }
        let reach = Dictionary(uniqueKeysWithValues: nodes.map { ($0, reachable(from: $0)) })
        var done: Set<String> = []
        var found: [(group: [String], cycle: [String])] = []
        for node in nodes where !done.contains(node) {
            let group = Set(nodes.filter { reach[node]!.contains($0) && reach[$0]!.contains(node) })
            done.formUnion(group)
            guard group.count > 1 else { continue }
            // A shortest way back to `node` inside the group (breadth first).
            var back: [String: String] = [:]
            var queue = (edges[node] ?? [:]).keys.filter { group.contains($0) }.sorted()
            for next in queue { back[next] = node }
            var index = 0
            while index < queue.count, back[node] == nil {
                let current = queue[index]
                index += 1
                for next in (edges[current] ?? [:]).keys.sorted() where group.contains(next) && back[next] == nil {
                    back[next] = current
                    queue.append(next)
                }
            }
            var path = [node]
            var current = back[node]!
            while current != node {
                path.append(current)
                current = back[current]!
            }
            found.append((group.sorted(), [node] + path.dropFirst().reversed() + [node]))
        }
        return found
    }

    static func explain(_ cycle: [String], _ graph: Graph) -> String {
        zip(cycle, cycle.dropFirst()).map { from, to in
            "\(from) → \(to) (\(graph.edges[from]?[to]?.joined(separator: "; ") ?? ""))"
        }.joined(separator: "\n")
    }

    @Test func foldersFormNoCycle() throws {
        let graph = try Self.load()
        #expect(graph.files.count > 20, "no sources found under \(Self.library.path)")
        #expect(Set(graph.folders).isSuperset(of: ["Config", "Source", "Storage", "Support"]), "folders: \(graph.folders)")
        for (group, cycle) in Self.cycles(graph.edges) {
            Issue.record("folders \(group.joined(separator: ", ")) depend on each other; one cycle: \(cycle.joined(separator: " → ")):\n\(Self.explain(cycle, graph))")
        }
    }

    @Test func storageAndSupportDependOnNoOtherFolder() throws {
        let graph = try Self.load()
        let allowed: [String: Set<String>] = ["Support": [], "Storage": ["Support"]]
        for (folder, permitted) in allowed {
            for (target, why) in graph.edges[folder] ?? [:] where !permitted.contains(target) {
                Issue.record("\(folder)/ depends on \(target)/: \(why.joined(separator: "; "))")
            }
        }
    }

    @Test func onlyConfigMentionsMigrationConfig() throws {
        let graph = try Self.load()
        #expect(graph.owners["MigrationConfig"] == ["Config"])
        for file in graph.files where file.folder != "Config" && Self.identifiers(file.code).contains("MigrationConfig") {
            Issue.record("\(file.path) mentions MigrationConfig; map the configuration in Config/ConfigMapping.swift instead")
        }
    }

    /// The checker itself: comments and strings do not count, interpolations do, cycles are found.
    @Test func checkerSeesCodeOnly() {
        let code = Self.strip("""
        let a = Foo() // Bar
        /* Baz /* nested */ Qux */ let b = "Quux \\(Corge("x")) Grault"
        let c = #"Garply "\\(Waldo)" \\#(Fred)"#
        """)
        let words = Set(Self.identifiers(code))
        #expect(words.isSuperset(of: ["Foo", "Corge", "Fred"]))
        #expect(words.isDisjoint(with: ["Bar", "Baz", "Qux", "Quux", "Grault", "x", "Garply", "Waldo"]))
        #expect(Self.declarations("public struct A {\n  struct B {}\n}\nextension C {}\nfunc d() {}\n@usableFromInline final class E {}") == ["A", "d", "E"])
        #expect(Self.cycles(["A": ["B": []], "B": ["C": []], "C": ["A": []]]).map(\.cycle) == [["A", "B", "C", "A"]])
        #expect(Self.cycles(["A": ["B": []], "B": ["C": [], "A": []], "D": ["E": []], "E": ["D": []]]).map(\.cycle) == [["A", "B", "A"], ["D", "E", "D"]])
        #expect(Self.cycles(["A": ["B": []], "B": ["C": []], "D": ["C": []]]).isEmpty)
    }
}
