import Foundation

/// One cell of a 1.x meta row as the database returned it. SQLite keeps a storage class per
/// value whatever the column's declared type; MySQL's text protocol gives text or NULL.
enum MetaCell: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    /// A BLOB of this many bytes (its content is never shown).
    case blob(bytes: Int)
}

/// Typed, checked decoding of one `Tables`/`TableFiles` row, shared by the SQLite and MySQL
/// readers so both apply the same rules: an integer column takes a 64-bit integer (or text or a
/// REAL that is exactly one), a text column takes text (or an integer, as its digits); anything
/// else, and NULL where the schema has no default, is an error naming the table, the row id and
/// the column. Nothing is truncated, nothing traps.
struct MetaRowDecoder {
    let table: String
    let source: String
    /// The row's `id` once decoded; the row's position before that.
    private(set) var id: Int64 = 0
    private let position: Int
    private var hasId = false
    private let cell: (String) throws -> MetaCell

    /// `position` is the row's 1-based position in `ORDER BY id`, for rows whose id is unusable.
    init(table: String, source: String, position: Int, cell: @escaping (String) throws -> MetaCell) throws {
        self.table = table
        self.source = source
        self.position = position
        self.cell = cell
        id = try int("id")
        hasId = true
    }

    private var subject: String { hasId ? "table \(table), row id \(id)" : "table \(table), row \(position)" }

    private func fail(_ column: String, _ problem: String) -> MigrationError {
        .meta(source: source, message: "\(subject), column \(column): \(problem)")
    }

    /// An integer column; `default` stands in for NULL where the 1.x schema allows it.
    func int(_ column: String, default fallback: Int64? = nil) throws -> Int64 {
        switch try cell(column) {
        case .integer(let value):
            return value
        case .real(let value):
            if let exact = Int64(exactly: value) { return exact }
            if value.isFinite && value.rounded() == value {
                throw fail(column, "holds \(value), which does not fit a 64-bit integer")
            }
            throw fail(column, "holds the number \(value), expected a whole number")
        case .text(let text):
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if let value = Int64(trimmed) { return value }
            if let real = Double(trimmed), real.isFinite, let exact = Int64(exactly: real) { return exact }
            if trimmed.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "+") }), !trimmed.isEmpty {
                throw fail(column, "holds \(MetaRowDecoder.shown(text)), which does not fit a 64-bit integer")
            }
            throw fail(column, "holds \(MetaRowDecoder.shown(text)), expected a whole number")
        case .blob(let bytes):
            throw fail(column, "holds a BLOB of \(bytes) bytes, expected a whole number")
        case .null:
            guard let fallback else { throw fail(column, "is NULL, expected a whole number") }
            return fallback
        }
    }

    /// A text column; `default` stands in for NULL where the 1.x schema allows it.
    func text(_ column: String, default fallback: String? = nil) throws -> String {
        switch try cell(column) {
        case .text(let text):
            return text
        case .integer(let value):
            return String(value)
        case .real(let value):
            throw fail(column, "holds the number \(value), expected text")
        case .blob(let bytes):
            throw fail(column, "holds a BLOB of \(bytes) bytes, expected text")
        case .null:
            guard let fallback else { throw fail(column, "is NULL, expected text") }
            return fallback
        }
    }

    /// A value for a message: quoted, at most 40 characters, control characters escaped.
    static func shown(_ text: String) -> String {
        let cut = text.count > 40 ? String(text.prefix(40)) + "…" : text
        var out = "'"
        for scalar in cut.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "'"
    }
}
