import Foundation
import GRDB
import Testing
import Milvus1xFixture
@testable import MilvusMigration

/// Typed decoding of the 1.x meta rows (SQLite here; the MySQL reader shares the decoder) and
/// checked sums of row counts: wrong types are errors naming table, row id and column, never a
/// trap or a silent truncation.
@Suite struct MetaDecodingTests {
    /// The worked example with its tables rebuilt without NOT NULL (types kept), then `sql`.
    func corrupted(_ sql: String) throws -> (TempDir, String) {
        let dir = TempDir()
        let db = try makeWorkedExample(at: dir.sub("db"))
        try loosenMeta(at: db.metaPath, thenRun: sql)
        return (dir, db.metaPath)
    }

    func readError(_ sql: String) throws -> String {
        let (dir, path) = try corrupted(sql)
        defer { withExtendedLifetime(dir) {} }
        do {
            _ = try SQLiteMetaReader(path: path).read()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func wrongTypesNameTableRowAndColumn() throws {
        let id = 1
        let cases: [(String, [String])] = [
            ("UPDATE Tables SET dimension = 'abc'", ["table Tables, row id \(id), column dimension: holds 'abc', expected a whole number"]),
            ("UPDATE Tables SET dimension = 16.5", ["table Tables, row id \(id), column dimension: holds the number 16.5"]),
            ("UPDATE Tables SET table_id = X'00FF'", ["table Tables, row id \(id), column table_id: holds a BLOB of 2 bytes"]),
            ("UPDATE Tables SET owner_table = NULL", ["table Tables, row id \(id), column owner_table: is NULL"]),
            ("UPDATE TableFiles SET row_count = '99999999999999999999'", ["table TableFiles, row id", "column row_count", "does not fit a 64-bit integer"]),
            ("UPDATE TableFiles SET file_size = X'01'", ["table TableFiles", "column file_size: holds a BLOB"]),
            ("UPDATE Tables SET id = 'x'", ["table Tables, row 1, column id: holds 'x'"]),
        ]
        for (sql, parts) in cases {
            let message = try readError(sql)
            for part in parts { #expect(message.contains(part), "\(sql): \(message)") }
        }
    }

    @Test func exactValuesOfOtherStorageClassesAreAccepted() throws {
        // A REAL that is a whole number, digits stored as text, an integer in a text column.
        let (dir, path) = try corrupted("UPDATE Tables SET dimension = 4.0, metric_type = '1', version = 111")
        let snapshot = try SQLiteMetaReader(path: path).read()
        #expect(snapshot.tables[0].dimension == 4 && snapshot.tables[0].metricType == 1 && snapshot.tables[0].version == "111")
        withExtendedLifetime(dir) {}
    }

    @Test func hugeRowCountsAreProblemsNotTraps() throws {
        // One impossible segment, and segments whose counts add up past 2^63.
        let (dir, path) = try corrupted("UPDATE TableFiles SET row_count = 9223372036854775807")
        let meta = MetaAssembler.assemble(try SQLiteMetaReader(path: path).read())
        #expect(meta.diagnostics.errors.contains { $0.message.contains("row_count 9223372036854775807 is impossible") })
        _ = meta.totalRows
        withExtendedLifetime(dir) {}

        let json = #"{"collections": [{"collection": "c", "metric": 1, "dim": 4, "segments": ["# + (1...40).map { #"{"segment": "\#($0)", "rows": 100000000000000000}"# }.joined(separator: ",") + "]}]}"
        let decoded = try MetaJSON.decode(Data(json.utf8), origin: "m.json")
        #expect(decoded.collections.isEmpty)
        #expect(decoded.diagnostics.errors.first?.message.contains("add up past") == true)
        #expect(decoded.totalRows == 0)
    }

    @Test func metaJSONNumbersOutOfRangeAreClearErrors() throws {
        let cases: [(String, String)] = [
            (#"{"collections": [{"collection": "c", "metric": 1, "dim": 4, "segments": [{"segment": "1", "rows": 1e30}]}]}"#, "collections[0].segments[0].rows"),
            (#"{"collections": [{"collection": "c", "metric": 1, "dim": 99999999999999999999}]}"#, "collections[0].dim"),
            (#"[1, 2]"#, "top level"),
            (#"{"collections": [{"collection": "c", "metric": "1", "dim": 4}]}"#, "collections[0].metric"),
        ]
        for (text, part) in cases {
            #expect { _ = try MetaJSON.decode(Data(text.utf8), origin: "m.json") } throws: { error in
                "\(error)".contains("m.json") && "\(error)".contains(part)
            }
        }
        let negative = try MetaJSON.decode(Data(#"{"collections": [{"collection": "c", "metric": 1, "dim": 4, "segments": [{"segment": "1", "rows": -1}]}]}"#.utf8), origin: "m.json")
        #expect(negative.diagnostics.errors.first?.subject == "collection 'c' segment '1'")
    }
}
