import Foundation
import Testing
@testable import MilvusMigration

/// The progress line's figures: verify's rows and ETA, and start's ETA that waits for imports.
struct ProgressReporterTests {
    @Test func verifyLineCountsRowsWithRateAndETA() {
        let p = ProgressReporter(title: "verify", totalUnits: 1, totalBytes: 0, totalRows: 2_000_000, quiet: true, isTerminal: false)
        p.addRows(500_000)
        p.addRows(500_000)
        #expect(p.line(elapsed: 100) == "verify: 1,000,000 of 2,000,000 rows compared (50%), 10000 rows/s, ETA 1m40s")
        p.addRows(1_000_000)
        #expect(p.line(elapsed: 200) == "verify: 2,000,000 of 2,000,000 rows compared (100%), 10000 rows/s")
    }

    /// `start` stages far faster than Milvus imports: 75 % staged after 25 s but one of four
    /// equal segments imported. Staging alone says 8 s to go; the imports say 75 s.
    @Test func startETAIsTheLaterOfStagingAndImports() {
        let p = ProgressReporter(title: "start", totalUnits: 4, totalBytes: 400_000_000, etaFromFinished: true, quiet: true, isTerminal: false)
        p.addBytes(300_000_000)
        #expect(!p.line(elapsed: 25).contains("ETA"), "no import has finished: nothing says how fast they go")
        p.finishUnit(rows: 1000, bytes: 100_000_000)
        #expect(p.line(elapsed: 25).hasSuffix("ETA 1m15s"))
        // Without etaFromFinished (dump) the staging rate decides.
        let dump = ProgressReporter(title: "dump", totalUnits: 4, totalBytes: 400_000_000, quiet: true, isTerminal: false)
        dump.addBytes(300_000_000)
        #expect(dump.line(elapsed: 25).hasSuffix("ETA 8s"))
    }

    @Test func durationsReadAsHoursMinutesSeconds() {
        #expect(Format.duration(42) == "42s")
        #expect(Format.duration(185) == "3m05s")
        #expect(Format.duration(7620) == "2h07m")
    }
}
