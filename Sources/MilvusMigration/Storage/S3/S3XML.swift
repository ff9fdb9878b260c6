import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A minimal XML element tree for S3's small responses (listings, errors, upload ids).
struct S3XMLNode: Sendable {
    var name: String
    var text = ""
    var children: [S3XMLNode] = []

    /// The first child called `name`.
    func child(_ name: String) -> S3XMLNode? { children.first { $0.name == name } }
    func all(_ name: String) -> [S3XMLNode] { children.filter { $0.name == name } }
    /// The text of the first child called `name`.
    func value(_ name: String) -> String? { child(name)?.text }

    /// The tree of an answer, or nil when it is not well-formed UTF-8 XML. Foundation's
    /// XMLParser crashes on some input (found by fuzzing): it traps on an element name that is
    /// not valid UTF-8, and reads a null pointer for a processing instruction without data
    /// (`<?a?>`). S3 answers are UTF-8 and hold neither processing instructions nor a DTD, so
    /// anything else is refused before it reaches the parser.
    static func parse(_ bytes: [UInt8]) -> S3XMLNode? {
        guard !bytes.isEmpty, String(validating: bytes, as: UTF8.self) != nil, !hasForeignMarkup(bytes) else { return nil }
        let builder = Builder()
        let parser = XMLParser(data: Data(bytes))
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else { return nil }
        return root
    }

    /// Whether, after an optional leading `<?xml …?>` declaration, the bytes hold `<?` (a
    /// processing instruction) or `<!` other than a comment or CDATA (a DTD, entity declarations).
    static func hasForeignMarkup(_ bytes: [UInt8]) -> Bool {
        let lt = UInt8(ascii: "<"), question = UInt8(ascii: "?"), bang = UInt8(ascii: "!")
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        // The declaration is `<?xml` and white space (`<?xml8?>` is a processing instruction).
        if bytes[start...].starts(with: Array("<?xml".utf8)), start + 5 < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[start + 5]) {
            var i = start + 5
            while i + 1 < bytes.count, !(bytes[i] == question && bytes[i + 1] == UInt8(ascii: ">")) {
                if bytes[i] == lt { return true } // not closed before the next markup
                i += 1
            }
            start = i + 2
        }
        var i = start
        while i + 1 < bytes.count {
            if bytes[i] == lt {
                let next = bytes[i + 1]
                if next == question { return true }
                if next == bang, !bytes[(i + 2)...].starts(with: Array("--".utf8)), !bytes[(i + 2)...].starts(with: Array("[CDATA[".utf8)) {
                    return true
                }
            }
            i += 1
        }
        return false
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [S3XMLNode] = []
        var root: S3XMLNode?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?,
                    attributes attributeDict: [String: String] = [:]) {
            stack.append(S3XMLNode(name: elementName))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if !stack.isEmpty { stack[stack.count - 1].text += string }
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            guard let done = stack.popLast() else { return }
            if stack.isEmpty { root = done } else { stack[stack.count - 1].children.append(done) }
        }
    }

    /// Escapes text for an element body.
    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(ch)
            }
        }
        return out
    }
}
