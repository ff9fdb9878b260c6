import Foundation
import Testing
@testable import MilvusMigration

/// Coalescing (`dumper.worker.groupMB`) through the pipeline, against the in-memory target: one
/// import per group, the group's files hold every member's live rows in order, and neither a rerun
/// nor a rerun with another limit imports a row twice.
extension PipelineTests {
    /// (collection, partition) pairs that have segments: with everything grouped, one unit each.
    static func partitionCount(_ plan: MigrationPlan) -> Int {
        plan.collections.flatMap(\.partitions).filter { !$0.segments.isEmpty }.count
    }

    @Test func smallSegmentsAreStagedAndImportedAsOneGroupPerPartition() async throws {
        var f = try await Fixture(rows: 30, segmentsPerTable: 4)
        f.options.groupBytes = 1 << 20
        let report = try await f.start()
        await f.expectExact()
        let groups = Self.partitionCount(f.plan)
        #expect(await f.target.count(of: "startImport") == groups, "one import per partition instead of \(f.segments)")
        #expect(report.collections.map(\.segments).reduce(0, +) == f.segments, "the report still counts segments")
        #expect(report.collections.map(\.tasks.count).reduce(0, +) == groups)
        // The group's pair holds every live row of its members, in segment order.
        try f.scenario.checkAll()
        let keys = try await f.journal().all.map(\.key)
        #expect(keys.count == groups && keys.allSatisfy { $0.contains("..") }, "\(keys)")

        // Reruns, with the same limit and with grouping off, import nothing: the journal's groups stay.
        _ = try await f.start()
        var g = f
        g.options.groupBytes = 0
        let again = try await g.start()
        #expect(await f.target.count(of: "startImport") == groups)
        #expect(again.collections.map(\.alreadyImported).reduce(0, +) == f.segments)
        await f.expectExact("after the reruns")
    }

    @Test func groupsFollowTheLimitAndLoadFollowsTheJournal() async throws {
        var f = try await Fixture(rows: 30, segmentsPerTable: 4)
        let segmentBytes = f.plan.collections[0].partitions[0].segments[0].segment.fileSize
        // Two segments fit, a third does not: 2 groups of 2 per partition.
        f.options.groupBytes = 2 * segmentBytes + segmentBytes / 2
        let dumped = try await f.pipeline.dump(f.plan, from: f.source)
        #expect(dumped.collections.map(\.segments).reduce(0, +) == f.segments)
        let keys = try await f.journal().all.map(\.key)
        #expect(keys.count > Self.partitionCount(f.plan) && keys.count < f.segments, "\(keys)")
        // A group never exceeds the limit; only a segment of at least the limit stands alone above it.
        let sizes = Dictionary(f.plan.collections.flatMap { c in c.partitions.flatMap { p in
            p.segments.map { ("\(c.source.name)/\(p.source.name)/\($0.segment.id)", $0.segment.fileSize) } } }, uniquingKeysWith: { a, _ in a })
        for key in keys where key.contains("..") {
            let prefix = key[..<key.lastIndex(of: "/")!]
            let bounds = key[key.index(after: key.lastIndex(of: "/")!)...].components(separatedBy: "..")
            let members = sizes.filter { $0.key.hasPrefix(prefix + "/") }.filter { entry in
                let id = String(entry.key.split(separator: "/").last!)
                return (id.count, id) >= (bounds[0].count, bounds[0]) && (id.count, id) <= (bounds[1].count, bounds[1])
            }
            #expect(members.count >= 2 && members.values.reduce(0, +) <= f.options.groupBytes, "\(key)")
        }
        try f.scenario.checkAll()
        // load knows nothing of groupMB: it imports what the journal says was staged.
        var g = f
        g.options.groupBytes = 0
        _ = try await g.pipeline.load(into: g.target)
        await g.expectExact()
        #expect(await g.target.count(of: "startImport") == keys.count)
    }

    /// A group whose staged file is damaged is staged again as a whole before its import.
    @Test func aDamagedGroupFileIsRestagedBeforeImport() async throws {
        var f = try await Fixture(rows: 30, segmentsPerTable: 3)
        f.options.groupBytes = 1 << 20
        _ = try await f.pipeline.dump(f.plan, from: f.source)
        let record = try #require(try await f.journal().all.first)
        let path = "\(f.scenario.staging)/\(record.files[1].path)"
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: UInt64(record.files[1].bytes - 3))
        handle.write(Data([0xFF, 0xEE, 0xDD]))
        try handle.close()
        _ = try await f.start()
        await f.expectExact()
        try f.scenario.checkAll()
    }
}
