import Foundation
import Testing
@testable import MilvusMigration

/// The staging folder runs out of space: a small tmpfs mounted in the test's own mount namespace.
/// scripts/netns-run.sh (used by the test command) runs the tests as root in a private mount
/// namespace and exports MM_NETNS_INSIDE; there the mount must work and a failure to mount fails
/// the test. A plain `swift test` outside it skips the suite (it cannot mount).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MM_NETNS_INSIDE"] != nil,
                "needs the private mount namespace of scripts/netns-run.sh (root, tmpfs mounts)"), .serialized)
struct DiskFullTests {
    func mount(_ arguments: [String]) async throws {
        let (status, _, err) = try await run("/bin/mount", arguments)
        try #require(status == 0, "mount \(arguments.joined(separator: " ")) failed inside the test namespace (MM_NETNS_INSIDE is set, so it must work): \(err)")
    }

    /// dump → a clear error naming the file and ENOSPC, exit 1, no `.partial` left; after space
    /// is freed the rerun's staging is byte-identical to an uninterrupted dump.
    @Test func fullStagingDiskIsAClearErrorAndTheRerunIsExact() async throws {
        let fx = try await RemoteDumpFixture(rows: 12_000, segments: 3, collections: 1, dim: 128)
        let reference = try await fx.localDump()
        let total = reference.values.reduce(0) { $0 + $1.count }
        #expect(total > 5 << 20, "the staging needs more than the 2 MiB tmpfs: \(total) bytes")
        let small = fx.dir.sub("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        try await mount(["-t", "tmpfs", "-o", "size=2m", "tmpfs", small])
        defer { unmountLazily(small) }
        let config = try fx.config("small", fx.header() + "target:\n  mode: local\n  local:\n    outputDir: \(small)/out\n")

        let (status, out, err) = try await run(cliPath, ["dump", "-c", config, "--quiet"])
        #expect(status == 1, "\(err)")
        #expect(err.contains("No space left on device") && err.contains("\(small)/out/migration/"), "\(err)")
        #expect(!out.contains("Dumped"))
        // The error line names the staged file that did not fit (not the journal, whose write
        // fails on the same full disk when the failure is recorded).
        let errorLine = err.split(separator: "\n").first { $0.hasPrefix("milvus-migration: error:") } ?? ""
        #expect(errorLine.contains(".npy") && !errorLine.contains("journal.json"), "\(errorLine)")
        let left = try await folderContents("\(small)/out/migration").keys.filter { $0.hasSuffix(".partial") || $0.contains(".tmp-") }
        #expect(left.isEmpty, "\(left)")

        // Space freed: the rerun completes, byte for byte the uninterrupted dump.
        try await mount(["-o", "remount,size=64m", small])
        let (status2, _, err2) = try await run(cliPath, ["dump", "-c", config, "--quiet"])
        #expect(status2 == 0, "\(err2)")
        let staged = try await folderContents("\(small)/out/migration").filter { $0.key != "journal.json" }
        #expect(staged.keys.sorted() == reference.keys.sorted())
        for (path, bytes) in reference { #expect(staged[path].map { $0 == bytes } == true, "\(path) differs") }
    }
}

/// `umount -l` for a `defer` (which cannot await): a short blocking wait at the end of the test.
private func unmountLazily(_ path: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/umount")
    process.arguments = ["-l", path]
    guard (try? process.run()) != nil else { return }
    process.waitUntilExit()
}
