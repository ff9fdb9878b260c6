import Foundation
import Testing
@testable import MilvusMigration

/// The journal's state machine against its documented table (docs/ARCHITECTURE.md, "The journal"):
/// every event applied to every state, in process. A pair the table lists must land in the listed
/// state; every other pair must throw `journalTransition` and leave the record as it was.
@Suite struct JournalTransitionTableTests {
    static let epoch = Date(timeIntervalSince1970: 0)
    static let later = Date(timeIntervalSince1970: 60)
    static let files = JournalStateTests.files
    static let task: Int64 = 7

    /// A record in each state of the table, built through legal transitions only.
    static func record(in state: String) throws -> SegmentRecord {
        var r = SegmentRecord(key: "c/_default/1", now: epoch)
        func apply(_ events: SegmentEvent...) throws { for e in events { try r.apply(e, at: epoch) } }
        let staged = SegmentEvent.staged(files: files, rows: 10, deletedRows: 2, fingerprint: "f", boot: "b")
        switch state {
        case "pending": break
        case "staged": try apply(staged)
        case "failed(dump)": try apply(.stageFailed(reason: "disk full", fingerprint: "f"))
        case "failed(import)": try apply(staged, .importRequested, .importTaskRecorded(task), .importFailed(reason: "refused"))
        case "importing(task: nil)": try apply(staged, .importRequested)
        case "importing(task: id)": try apply(staged, .importRequested, .importTaskRecorded(task))
        case "inserting(rows left)": try apply(.insertStarted(rows: 10, deletedRows: 2, fingerprint: "f"), .insertSending(from: 0, rows: 4), .insertAcknowledged)
        case "inserting(batch in flight)": try apply(.insertStarted(rows: 10, deletedRows: 2, fingerprint: "f"), .insertSending(from: 0, rows: 4))
        case "inserting(all acknowledged)": try apply(.insertStarted(rows: 10, deletedRows: 2, fingerprint: "f"), .insertSending(from: 0, rows: 10), .insertAcknowledged)
        case "imported(staged files)": try apply(staged, .importRequested, .importTaskRecorded(task), .importCompleted)
        case "imported(files removed)": try apply(staged, .importRequested, .importTaskRecorded(task), .importCompleted, .stagedFilesRemoved)
        case "imported(inserted)": try apply(.insertStarted(rows: 10, deletedRows: 2, fingerprint: "f"), .insertSending(from: 0, rows: 10), .insertAcknowledged, .insertCompleted)
        default: throw MigrationError.usage("the table names a state the test cannot build: \(state)")
        }
        #expect(Self.state(of: r) == state, "the record built for \(state) is in \(Self.state(of: r))")
        return r
    }

    /// The table's name for a record's state (a phase, split where its data decides what is legal).
    static func state(of r: SegmentRecord) -> String {
        switch r.phase {
        case .pending: return "pending"
        case .staged: return "staged"
        case .failed: return r.files.isEmpty ? "failed(dump)" : "failed(import)"
        case .importing: return r.importTask == nil ? "importing(task: nil)" : "importing(task: id)"
        case .inserting:
            if r.insertBatch != nil { return "inserting(batch in flight)" }
            return (r.insertedRows ?? 0) == r.rows ? "inserting(all acknowledged)" : "inserting(rows left)"
        case .imported:
            if r.files.isEmpty { return "imported(inserted)" }
            return r.filesRemoved == true ? "imported(files removed)" : "imported(staged files)"
        }
    }

    /// Every event, by the table's name; some depend on the record they are applied to.
    static let events: [(name: String, make: @Sendable (SegmentRecord) -> SegmentEvent)] = [
        ("staged", { _ in .staged(files: files, rows: 10, deletedRows: 2, fingerprint: "g", boot: "b") }),
        ("stagedFilesChecked", { _ in .stagedFilesChecked(boot: "c") }),
        ("stageFailed", { _ in .stageFailed(reason: "gone", fingerprint: "g") }),
        ("importRequested", { _ in .importRequested }),
        ("importTaskRecorded(same id)", { r in .importTaskRecorded(r.importTask ?? task) }),
        ("importTaskRecorded(other id)", { r in .importTaskRecorded((r.importTask ?? task) + 1) }),
        ("importCompleted", { _ in .importCompleted }),
        ("importFailed", { _ in .importFailed(reason: "failed") }),
        ("stagedFilesRemoved", { _ in .stagedFilesRemoved }),
        ("insertStarted", { _ in .insertStarted(rows: 10, deletedRows: 2, fingerprint: "g") }),
        ("insertSending(next rows)", { r in
            let acknowledged = r.insertedRows ?? 0
            return .insertSending(from: acknowledged, rows: max(1, min(3, r.rows - acknowledged)))
        }),
        ("insertSending(other rows)", { r in .insertSending(from: (r.insertedRows ?? 0) + 1, rows: 1) }),
        ("insertAcknowledged", { _ in .insertAcknowledged }),
        ("insertNotApplied", { _ in .insertNotApplied(reason: "refused") }),
        ("insertCompleted", { _ in .insertCompleted }),
    ]

    struct Row: Hashable {
        var state: String
        var event: String
    }

    /// The transition table as docs/ARCHITECTURE.md writes it.
    static func documentedTable() throws -> [Row: String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/ARCHITECTURE.md"), encoding: .utf8)
        guard let begin = text.range(of: "<!-- transitions:begin -->"), let end = text.range(of: "<!-- transitions:end -->") else {
            throw MigrationError.usage("docs/ARCHITECTURE.md has no transitions table")
        }
        var table: [Row: String] = [:]
        for line in text[begin.upperBound..<end.lowerBound].split(separator: "\n") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 3, cells[0] != "state", !cells[0].hasPrefix("---") else { continue }
            let row = Row(state: cells[0], event: cells[1])
            #expect(table[row] == nil, "the table lists \(row) twice")
            table[row] = cells[2]
        }
        return table
    }

    static let allStates = ["pending", "staged", "failed(dump)", "failed(import)", "importing(task: nil)", "importing(task: id)",
                            "inserting(rows left)", "inserting(batch in flight)", "inserting(all acknowledged)",
                            "imported(staged files)", "imported(files removed)", "imported(inserted)"]

    @Test func everyEventInEveryStateDoesWhatTheDocumentedTableSays() throws {
        let table = try Self.documentedTable()
        #expect(table.count >= 30, "the table was not read (\(table.count) rows)")
        let eventNames = Set(Self.events.map(\.name))
        for row in table.keys {
            #expect(Self.allStates.contains(row.state), "the table names an unknown state: \(row.state)")
            #expect(eventNames.contains(row.event), "the table names an unknown event: \(row.event)")
            #expect(Self.allStates.contains(table[row]!), "the table names an unknown next state: \(table[row]!)")
        }
        var legal = 0
        for state in Self.allStates {
            let before = try Self.record(in: state)
            for (name, make) in Self.events {
                var r = before
                let event = make(r)
                let expected = table[Row(state: state, event: name)]
                do {
                    try r.apply(event, at: Self.later)
                    legal += 1
                    #expect(expected != nil, "\(state) + \(name) is allowed, the table says illegal")
                    if let expected { #expect(Self.state(of: r) == expected, "\(state) + \(name) -> \(Self.state(of: r)), the table says \(expected)") }
                    #expect(r.updated == Self.later)
                } catch MigrationError.journalTransition(let segment, _, let described) {
                    #expect(expected == nil, "\(state) + \(name) throws, the table says -> \(expected ?? "")")
                    #expect(segment == before.key && described == event.description)
                    #expect(r == before, "an illegal \(name) in \(state) changed the record")
                }
            }
        }
        #expect(legal == table.count, "\(legal) legal pairs, the table lists \(table.count)")
    }

    /// Where the rows may be in Milvus the record never goes back to a phase that would stage or
    /// import them again; checked over every sequence of up to three events from every state.
    @Test func aRecordWhoseRowsMayBeInMilvusNeverGoesBack() throws {
        func walk(_ r: SegmentRecord, depth: Int) {
            guard depth > 0 else { return }
            for (name, make) in Self.events {
                var next = r
                guard (try? next.apply(make(r), at: Self.later)) != nil else { continue }
                if r.mayHaveImportedRows && r.phase != .importing {
                    // inserting and imported: the rows (some or all) are in; nothing leaves them but forward.
                    #expect(next.mayHaveImportedRows, "\(Self.state(of: r)) + \(name) -> \(Self.state(of: next))")
                }
                if r.phase == .importing && !next.mayHaveImportedRows {
                    #expect(name == "importFailed" && next.importTask == r.importTask, "\(Self.state(of: r)) + \(name) left importing")
                }
                walk(next, depth: depth - 1)
            }
        }
        for state in Self.allStates { walk(try Self.record(in: state), depth: 3) }
    }
}
