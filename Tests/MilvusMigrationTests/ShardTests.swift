import Foundation
import Testing
@testable import MilvusMigration

/// The shard split (`ShardSplit`), the choice of the shard (`--shard`, `JOB_COMPLETION_INDEX`
/// and a shard count), and sharded pipelines running at once against the in-memory target.
/// The same against a real Milvus: `ShardMilvusTests`.
@Suite struct ShardTests {
    /// Pseudo-random segments (sizes with repeats, so ties are exercised).
    static func segments(_ n: Int, seed: UInt64) -> [(key: String, bytes: Int64)] {
        var rng = seed
        return (0..<n).map { i in
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return (key: "c\(i % 3)/_default/\(1000 + i)", bytes: Int64((rng >> 33) % 50) * 1_000_000)
        }
    }

    @Test func splitCoversEverySegmentOnceAndIsBalanced() {
        for (n, shards) in [(0, 3), (1, 3), (2, 3), (24, 3), (24, 5), (500, 7), (10, 1), (3, 10)] {
            let items = Self.segments(n, seed: UInt64(n * 31 + shards))
            let assignment = ShardSplit.assign(items, shards: shards)
            #expect(assignment.count == n, "every segment is assigned")
            #expect(assignment.values.allSatisfy { (0..<shards).contains($0) })
            // Each key in exactly one shard: the shards' selections partition the keys.
            var seen: [String: Int] = [:]
            for s in 0..<shards {
                for item in items where assignment[item.key] == s { seen[item.key, default: 0] += 1 }
            }
            #expect(seen.count == n && seen.values.allSatisfy { $0 == 1 })
            // Greedy largest-first: the heaviest shard exceeds the lightest by at most the largest segment.
            let totals = ShardSplit.totals(items, shards: shards)
            #expect(totals.map(\.segments).reduce(0, +) == n)
            let largest = items.map(\.bytes).max() ?? 0
            let heaviest = totals.map(\.bytes).max() ?? 0, lightest = totals.map(\.bytes).min() ?? 0
            #expect(heaviest - lightest <= largest, "n=\(n) shards=\(shards): \(totals)")
        }
    }

    @Test func splitIsTheSameInAnyOrderOfInput() {
        let items = Self.segments(200, seed: 7)
        let reference = ShardSplit.assign(items, shards: 4)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            #expect(ShardSplit.assign(items.shuffled(using: &rng), shards: 4) == reference)
        }
        #expect(ShardSplit.assign(items.reversed(), shards: 4) == reference)
        // Equal sizes: balanced by count, ties broken by key.
        let equal = (0..<9).map { (key: "k\($0)", bytes: Int64(10)) }
        let split = ShardSplit.assign(equal, shards: 3)
        #expect(ShardSplit.totals(equal, shards: 3).map(\.segments) == [3, 3, 3])
        #expect(split["k0"] == 0 && split["k1"] == 1 && split["k2"] == 2 && split["k3"] == 0)
    }

    @Test func splitBalancesBytesNotCounts() {
        // One huge segment and many small ones: the huge one gets a shard of its own.
        let items = [(key: "big", bytes: Int64(100))] + (0..<10).map { (key: "s\($0)", bytes: Int64(10)) }
        let split = ShardSplit.assign(items, shards: 2)
        #expect(items.filter { split[$0.key] == split["big"] }.count == 1)
        #expect(ShardSplit.totals(items, shards: 2).map(\.bytes).sorted() == [100, 100])
    }

    @Test func aShardCleansOnlyItsOwnLeftovers() async throws {
        let dir = TempDir("sharding-leftovers")
        let area = LocalStagingArea(root: dir.path)
        let files = ["tables/c/1/data.npy.partial", "tables/c/2/data.npy.partial", "tables/c/p/3/id.npy.partial",
                     "journal.shard-0-of-2.json.tmp-12-0A1B2C3D", "journal.shard-1-of-2.json.tmp-13-0A1B2C3D",
                     "meta.json.tmp-7-DEADBEEF", "journal.shard-0-of-2.json", "journal.json"]
        for f in files {
            try FileManager.default.createDirectory(atPath: (dir.sub(f) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data("x".utf8).write(to: URL(fileURLWithPath: dir.sub(f)))
        }
        #expect(try await area.smallFiles(prefix: "journal.") == ["journal.json", "journal.shard-0-of-2.json"])
        let removed = try await area.removeLeftovers(LeftoverScope(smallFiles: ["journal.shard-0-of-2.json"], folders: ["tables/c/1", "tables/c/p/3"]))
        #expect(removed == 3)
        let left = files.filter { FileManager.default.fileExists(atPath: dir.sub($0)) }
        #expect(left == ["tables/c/2/data.npy.partial", "journal.shard-1-of-2.json.tmp-13-0A1B2C3D", "meta.json.tmp-7-DEADBEEF",
                         "journal.shard-0-of-2.json", "journal.json"])
    }

    @Test func shardSelectionParsing() {
        #expect(ShardSelection(parsing: "0/3") == ShardSelection(index: 0, count: 3))
        #expect(ShardSelection(parsing: " 2 / 3 ")?.description == "2/3")
        for bad in ["3/3", "-1/3", "1/0", "1", "a/b", "1/2/3", "", "/3"] {
            #expect(ShardSelection(parsing: bad) == nil, "\(bad)")
        }
        #expect(ShardSelection(index: 1, count: 4)!.journalName == "journal.shard-1-of-4.json")
        #expect(ShardSelection.parseJournalName("journal.shard-1-of-4.json")! == (1, 4))
        for other in ["journal.json", "journal.shard-1-of-4.json.tmp-12-ABCDEF01", "journal.shard-01-of-4.json", "journal.shard-x-of-4.json"] {
            #expect(ShardSelection.parseJournalName(other) == nil, "\(other)")
        }
    }

    static func config(shards: Int? = nil) throws -> MigrationConfig {
        var text = "dumper:\n  worker:\n    workMode: milvus1x\n"
        if let shards { text += "    shards: \(shards)\n" }
        return try MigrationConfig.parse(text + "meta:\n  mode: sqlite\n", file: "m.yaml")
    }

    @Test func shardFromFlagConfigAndJobCompletionIndex() throws {
        // The flag alone.
        #expect(try Self.config().shardSelection(flag: "1/3", environment: [:]) == ShardSelection(index: 1, count: 3))
        #expect(try Self.config().shardSelection(flag: "0/1", environment: [:]) == nil, "one shard is an unsharded run")
        #expect(try Self.config().shardSelection(flag: nil, environment: [:]) == nil)
        // Kubernetes: the index from JOB_COMPLETION_INDEX, the count from the config or the environment.
        #expect(try Self.config(shards: 3).shardSelection(flag: nil, environment: ["JOB_COMPLETION_INDEX": "2"]) == ShardSelection(index: 2, count: 3))
        #expect(try Self.config().shardSelection(flag: nil, environment: ["JOB_COMPLETION_INDEX": "1", "MILVUS_MIGRATION_SHARDS": "4"]) == ShardSelection(index: 1, count: 4))
        #expect(try Self.config(shards: 3).shardSelection(flag: "0/3", environment: ["JOB_COMPLETION_INDEX": "2"]) == ShardSelection(index: 0, count: 3), "the flag wins")
        #expect(try Self.config().shardSelection(flag: nil, environment: ["JOB_COMPLETION_INDEX": "0"]) == nil)

        func refused(_ config: MigrationConfig, _ flag: String?, _ env: [String: String], _ words: String) {
            #expect(throws: MigrationError.self) { try config.shardSelection(flag: flag, environment: env) }
            do { _ = try config.shardSelection(flag: flag, environment: env) } catch {
                #expect("\(error)".contains(words), "\(error)")
            }
        }
        refused(try Self.config(), "3/3", [:], "--shard: expected i/N")
        refused(try Self.config(shards: 4), "1/3", [:], "differs from the configured 4")
        refused(try Self.config(shards: 3), nil, [:], "no shard is chosen: pass --shard i/3 or set JOB_COMPLETION_INDEX")
        refused(try Self.config(shards: 3), nil, ["JOB_COMPLETION_INDEX": "3"], "JOB_COMPLETION_INDEX is '3', not a shard index from 0 to 2")
        refused(try Self.config(), nil, ["JOB_COMPLETION_INDEX": "2"], "no shard count is set")
        refused(try Self.config(shards: 3), nil, ["JOB_COMPLETION_INDEX": "0", "MILVUS_MIGRATION_SHARDS": "4"], "dumper.worker.shards")
        refused(try Self.config(), nil, ["MILVUS_MIGRATION_SHARDS": "x"], "MILVUS_MIGRATION_SHARDS")
        #expect(throws: MigrationError.self) { try Self.config(shards: 0) }
    }

    /// N pipelines of one job at once: one staging folder, one in-memory target.
    struct ShardedRun {
        let f: PipelineTests.Fixture
        let count: Int

        func pipeline(_ index: Int) -> MigrationPipeline {
            var options = f.options
            options.shard = ShardSelection(index: index, count: count)
            options.shardWaitTimeout = 20
            return MigrationPipeline(staging: LocalStagingArea(root: f.scenario.staging), options: options)
        }

        func startAll() async throws -> [LoadReport] {
            let pipelines = (0..<count).map { pipeline($0) }
            let (plan, source, target) = (f.plan, f.source, f.target)
            return try await withThrowingTaskGroup(of: (Int, LoadReport).self) { group in
                for (i, p) in pipelines.enumerated() {
                    group.addTask { (i, try await p.start(plan, from: source, into: target)) }
                }
                var reports: [(Int, LoadReport)] = []
                for try await r in group { reports.append(r) }
                return reports.sorted { $0.0 < $1.0 }.map(\.1)
            }
        }
    }

    @Test func shardsAtOnceMigrateEverySegmentOnceAndRerunsImportNothing() async throws {
        let f = try await PipelineTests.Fixture(rows: 30, segmentsPerTable: 3)
        let run = ShardedRun(f: f, count: 3)
        let reports = try await run.startAll()
        await f.expectExact()
        #expect(await f.target.count(of: "startImport") == f.segments)
        #expect(await f.target.count(of: "createCollection") == f.plan.collections.count, "only shard 0 creates collections")
        #expect(reports.map { $0.collections.map(\.segments).reduce(0, +) }.reduce(0, +) == f.segments)
        // A shard's summary claims only its own rows; the whole is verify's.
        #expect(reports[1].summary.contains("Shard 1/3: every row this shard imported is in Milvus") && !reports[1].summary.contains("Row counts match the source"))
        #expect(reports[2].json(plan: nil).serialized(pretty: false).contains("\"shard\":\"2/3\""))
        for i in 0..<3 {
            #expect(FileManager.default.fileExists(atPath: "\(f.scenario.staging)/journal.shard-\(i)-of-3.json"))
        }
        #expect(!FileManager.default.fileExists(atPath: "\(f.scenario.staging)/journal.json"))
        _ = try await run.startAll()
        #expect(await f.target.count(of: "startImport") == f.segments, "a rerun after success imports nothing")
        await f.expectExact("after the rerun")

        // Another shard count, or no shards, in the same staging folder is refused.
        let other = ShardedRun(f: f, count: 2)
        await #expect(throws: MigrationError.self) { try await other.pipeline(0).start(f.plan, from: f.source, into: f.target) }
        do { _ = try await other.pipeline(1).start(f.plan, from: f.source, into: f.target) } catch {
            #expect("\(error)".contains("journal.shard-0-of-3.json of a run with 3 shards"), "\(error)")
        }
        do { _ = try await f.start(); Issue.record("an unsharded run continued a sharded one") } catch {
            #expect("\(error)".contains("continue it with --shard i/3"), "\(error)")
        }
        #expect(await f.target.count(of: "startImport") == f.segments)
    }

    @Test func dumpAndLoadShardedSplitTheSameWay() async throws {
        let f = try await PipelineTests.Fixture(rows: 30, segmentsPerTable: 3)
        // The split `plan` prints is over the pipeline's own units and sizes (ungrouped here).
        let run = ShardedRun(f: f, count: 2)
        let shares = MigrationPipeline.shardShares(of: f.plan, shards: 2, options: f.options)
        #expect(shares.map(\.units) == (0..<2).map { run.pipeline($0).select(SegmentUnit.all(of: f.plan, fields: f.options.fields)).count })
        #expect(shares.map(\.segments).reduce(0, +) == f.segments)
        #expect(PlanReport.text(f.plan, shards: shares).contains("Shard split (2 shards"))
        for i in 0..<2 { _ = try await run.pipeline(i).dump(f.plan, from: f.source) }
        let pipelines = (0..<2).map { run.pipeline($0) }
        let target = f.target
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in pipelines { group.addTask { _ = try await p.load(into: target) } }
            try await group.waitForAll()
        }
        await f.expectExact()
        #expect(await f.target.count(of: "startImport") == f.segments)
    }

    /// `plan`'s split with grouping on (`dumper.worker.groupMB`): per shard the same units,
    /// segments and bytes as `select` gives each sharded run, not a split of single segments.
    @Test func planSplitIsThePipelinesSplitWithGrouping() async throws {
        var f = try await PipelineTests.Fixture(rows: 20, segmentsPerTable: 4)
        f.options.groupBytes = 1 << 20
        let units = SegmentUnit.all(of: f.plan, fields: f.options.fields, groupBytes: f.options.groupBytes)
        #expect(units.count < f.segments && units.contains { $0.members.count > 1 }, "the fixture's segments are grouped")
        for count in [2, 3] {
            let run = ShardedRun(f: f, count: count)
            let shares = MigrationPipeline.shardShares(of: f.plan, shards: count, options: f.options)
            #expect(shares.count == count)
            for i in 0..<count {
                let selected = run.pipeline(i).select(units)
                #expect(shares[i].units == selected.count, "shard \(i)/\(count)")
                #expect(shares[i].segments == selected.reduce(0) { $0 + $1.members.count }, "shard \(i)/\(count)")
                #expect(shares[i].bytes == selected.reduce(0) { $0 + $1.members.reduce(0) { $0 + $1.fileSize } }, "shard \(i)/\(count)")
            }
            #expect(shares.map(\.units).reduce(0, +) == units.count)
            #expect(shares.map(\.segments).reduce(0, +) == f.segments)
            let text = PlanReport.text(f.plan, shards: shares)
            #expect(text.contains("Shard split (\(count) shards, balanced by bytes)") && text.contains("units"), "\(text)")
        }
        // A sharded dump stages exactly the units `plan` gave each shard.
        let run = ShardedRun(f: f, count: 2)
        let shares = MigrationPipeline.shardShares(of: f.plan, shards: 2, options: f.options)
        for i in 0..<2 {
            _ = try await run.pipeline(i).dump(f.plan, from: f.source)
            let journal = try await JobJournal.open(LocalStagingArea(root: f.scenario.staging), name: "journal.shard-\(i)-of-2.json")
            #expect(await journal.all.filter { $0.phase == .staged }.count == shares[i].units, "shard \(i)")
        }
    }

    @Test func onExistingDropIsAppliedOnceByShardZeroBeforeAnyImport() async throws {
        var f = try await PipelineTests.Fixture(rows: 30, segmentsPerTable: 3)
        f.options.onExisting = .drop
        let floats = try #require(f.plan.collections.first { $0.source.name == "floats" })
        await f.target.addExisting(floats.targetName, schema: TargetSchema(idField: "id", vectorField: "data", vectorKind: .float, dimension: 5), rows: 7)
        let run = ShardedRun(f: f, count: 3)
        _ = try await run.startAll()
        await f.expectExact("the old rows are gone, no shard's rows were dropped")
        #expect(await f.target.count(of: "dropCollection") == 1)
        // A rerun (every shard's journal names the collection as the job's own) drops nothing.
        _ = try await run.startAll()
        #expect(await f.target.count(of: "dropCollection") == 1)
        await f.expectExact()
    }

    @Test func aShardDoesNotDecideForgottenTasksFromCountsThatOtherShardsChange() async throws {
        var f = try await PipelineTests.Fixture()
        f.options.importParallelism = 1
        f.options.importTimeout = 0.5
        f.options.shard = ShardSelection(index: 0, count: 2)
        await f.target.set(tasksHang: true)
        _ = await #expect(throws: MigrationError.self) { try await f.start() }
        // The server persisted the rows, then restarted and forgot the task.
        await f.target.completeHangingTasks()
        await f.target.restartForgettingTasks()
        await f.target.set(tasksHang: false)
        f.options.importTimeout = 60
        let imports = await f.target.count(of: "startImport")
        let error = await #expect(throws: MigrationError.self) { try await f.start() }
        #expect(error?.targetKind == .importUndecided)
        #expect("\(error.map { "\($0)" } ?? "")".contains("includes the other shards' rows; nothing was imported again"))
        #expect(await f.target.count(of: "startImport") == imports, "nothing imported on a guess")
    }

    @Test func insertModeIsRefusedWithShards() async throws {
        var f = try await PipelineTests.Fixture()
        f.options.loadMode = .insert
        f.options.shard = ShardSelection(index: 1, count: 2)
        let error = await #expect(throws: MigrationError.self) { try await f.pipeline.insert(f.plan, from: f.source, into: f.target) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("loader.mode insert cannot run sharded"))
        #expect(await f.target.calls.isEmpty)
    }

    @Test func onExistingFailStopsShardZeroAndTheOthersGiveUpWithoutImporting() async throws {
        var f = try await PipelineTests.Fixture(rows: 20, segmentsPerTable: 2)
        f.options.shardWaitTimeout = 1
        let bits = try #require(f.plan.collections.first { $0.source.name == "bits" })
        await f.target.addExisting(bits.targetName, schema: TargetSchema(idField: "id", vectorField: "data", vectorKind: .binary, dimension: 24), rows: 3)
        var errors: [String] = []
        for i in 0..<2 {
            var options = f.options
            options.shard = ShardSelection(index: i, count: 2)
            options.shardWaitTimeout = 1
            let pipeline = MigrationPipeline(staging: LocalStagingArea(root: f.scenario.staging), options: options)
            do { _ = try await pipeline.start(f.plan, from: f.source, into: f.target) } catch { errors.append("\(error)") }
        }
        #expect(errors.count == 2)
        #expect(errors.first?.contains("already exists") == true, "\(errors)")
        #expect(errors.last?.contains("waited 1 s for shard 0") == true, "\(errors)")
        #expect(await f.target.rows(bits.targetName) == 3, "nobody touched the existing collection")
    }
}

/// The CLI's side: `--shard` and the environment, `plan`'s split, `dump --shard` into one folder.
@Suite struct ShardCLITests {
    @Test func shardFlagEnvironmentAndPlanSplit() async throws {
        let s = try DumpTests.Scenario(rows: 40, segmentsPerTable: 2)
        var env = ProcessInfo.processInfo.environment
        env["JOB_COMPLETION_INDEX"] = nil
        env["MILVUS_MIGRATION_SHARDS"] = nil
        let bad = try await run(cliPath, ["dump", "-c", s.configPath, "--quiet", "--shard", "3/3"], environment: env)
        #expect(bad.0 == 2)
        #expect(bad.2.contains("--shard: expected i/N with 0 <= i < N"), "\(bad.2)")

        var sharded = env
        sharded["MILVUS_MIGRATION_SHARDS"] = "2"
        let unchosen = try await run(cliPath, ["dump", "-c", s.configPath, "--quiet"], environment: sharded)
        #expect(unchosen.0 == 2)
        #expect(unchosen.2.contains("no shard is chosen: pass --shard i/2 or set JOB_COMPLETION_INDEX"), "\(unchosen.2)")

        let plan = try await run(cliPath, ["plan", "-c", s.configPath], environment: sharded)
        #expect(plan.0 == 0, "\(plan.2)")
        #expect(plan.1.contains("Shard split (2 shards, balanced by bytes)") && plan.1.contains("1/2"), "\(plan.1)")

        // Both shards dump into one folder (one through JOB_COMPLETION_INDEX): every segment staged once.
        var pod1 = sharded
        pod1["JOB_COMPLETION_INDEX"] = "1"
        #expect(try await run(cliPath, ["dump", "-c", s.configPath, "--quiet", "--shard", "0/2"], environment: sharded).0 == 0)
        let second = try await run(cliPath, ["dump", "-c", s.configPath, "--quiet"], environment: pod1)
        #expect(second.0 == 0, "\(second.2)")
        var staged: [String] = []
        for i in 0..<2 {
            let journal = try await JobJournal.open(LocalStagingArea(root: s.staging), name: "journal.shard-\(i)-of-2.json")
            let records = await journal.all
            #expect(!records.isEmpty, "shard \(i) staged segments")
            staged += records.filter { $0.phase == .staged }.map(\.key)
        }
        // 3 tables x 2 segments, each staged by exactly one shard.
        #expect(staged.count == 6 && Set(staged).count == 6, "\(staged)")
        for (key, rows) in s.expected {
            let (collection, partition) = (String(key.split(separator: "/")[0]), String(key.split(separator: "/")[1]))
            #expect(try s.staged(collection, partition).map(\.0) == rows.map(\.0), "\(key)")
        }
    }
}
