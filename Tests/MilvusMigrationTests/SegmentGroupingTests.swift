import Foundation
import Testing
@testable import MilvusMigration

/// `dumper.worker.groupMB`: which segments become one unit, and that journaled units keep their shape.
struct SegmentGroupingTests {
    typealias Member = SegmentGrouping.Member

    func members(_ sizes: [Int64]) -> [Member] {
        sizes.enumerated().map { Member(id: String(1000 + $0.offset), bytes: $0.element) }
    }

    @Test func smallNeighboursGatherUpToTheLimitLargeOnesStayAlone() {
        // 40+40+40 = 120 > 100: a new group starts at the third; 150 is alone; 10+20+30 gather.
        let runs = SegmentGrouping.runs(members([40, 40, 40, 150, 10, 20, 30, 100]), limit: 100, journaled: [:])
        #expect(runs == [0..<2, 2..<3, 3..<4, 4..<7, 7..<8])
        // Every member exactly once, in order.
        #expect(runs.flatMap { Array($0) } == Array(0..<8))
    }

    @Test func limitZeroGroupsNothing() {
        #expect(SegmentGrouping.runs(members([1, 2, 3]), limit: 0, journaled: [:]) == [0..<1, 1..<2, 2..<3])
    }

    /// A rerun with another groupMB (or none) never regroups what the journal holds: the journaled
    /// group 1001..1003 and the journaled single 1005 stay; only the rest is grouped afresh.
    @Test func journaledUnitsKeepTheirShape() {
        let m = members([10, 10, 10, 10, 10, 10, 10])
        let journaled = ["1001": "1003", "1005": "1005"]
        #expect(SegmentGrouping.runs(m, limit: 1000, journaled: journaled) == [0..<1, 1..<4, 4..<5, 5..<6, 6..<7])
        #expect(SegmentGrouping.runs(m, limit: 0, journaled: journaled) == [0..<1, 1..<4, 4..<5, 5..<6, 6..<7])
        // A journaled group whose last segment is gone from the meta is not a shape to keep.
        #expect(SegmentGrouping.runs(m, limit: 0, journaled: ["1001": "9999"]).count == 7)
    }

    @Test func journalKeysNameTheirUnits() {
        let keys = ["c/_default/1001..1003", "c/_default/1005", "c/p1/1001", "d/_default/1001..1002", "c/_default"]
        #expect(SegmentGrouping.journaled(keys: keys, collection: "c", partition: "_default") == ["1001": "1003", "1005": "1005"])
        #expect(SegmentGrouping.journaled(keys: keys, collection: "c", partition: "p1") == ["1001": "1001"])
    }

    @Test func idsSortNumerically() {
        #expect(SegmentGrouping.ordered(["10", "9", "100", "11"]) == ["9", "10", "11", "100"])
    }
}
