import Foundation
import Testing
import Milvus1xFixture
@testable import MilvusMigration

/// A MariaDB of this test's own (scripts/services/mariadb.sh with a private run folder and port),
/// so killing it does not disturb the server the other suites share.
final class PrivateMariaDB {
    let runDir: String
    let port: Int
    let user: String
    let password: String

    init() throws {
        runDir = NSTemporaryDirectory() + "mm-private-mariadb-\(UUID().uuidString.prefix(8))"
        port = try PrivateMariaDB.freePort()
        user = try MariaDBTestServer.user
        password = try MariaDBTestServer.password
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        var environment = ProcessInfo.processInfo.environment
        environment["MM_RUN_DIR"] = runDir
        environment["MM_MYSQL_PORT"] = String(port)
        // Output to a file, not a pipe: the server keeps the script's descriptors open, so a
        // pipe would never reach end of file.
        try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        let log = "\(runDir)/start.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/bin/bash")
        script.arguments = ["\(repo)/scripts/services/mariadb.sh", "start"]
        script.environment = environment
        script.standardInput = FileHandle.nullDevice
        script.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        script.standardError = script.standardOutput
        try script.run()
        script.waitUntilExit()
        guard script.terminationStatus == 0 else {
            throw MigrationError.usage("private MariaDB did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
    }

    /// The server process (its own pid file).
    var pid: pid_t? {
        guard let text = try? String(contentsOfFile: "\(runDir)/mariadb/mariadbd.pid", encoding: .utf8) else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func connect(_ database: String = "mysql") throws -> MySQLConnection {
        var dsn = MySQLDSN(user: user, password: Secret(password), endpoint: .tcp(host: "127.0.0.1", port: port), database: database)
        dsn.connectTimeout = 5
        return try MySQLConnection(dsn)
    }

    func goDSN(_ database: String) -> String { "\(user):\(password)@tcp(127.0.0.1:\(port))/\(database)" }

    /// SIGKILL, as a crash or an OOM kill would.
    func kill() {
        if let pid { Foundation.kill(pid, SIGKILL) }
    }

    deinit {
        kill()
        usleep(200_000)
        try? FileManager.default.removeItem(atPath: runDir)
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw MigrationError.usage("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

@Suite(.serialized, .enabled(if: MariaDBTestServer.enabled, "needs the MariaDB of scripts/test.sh (its binaries and account)"))
struct MariaDBFaultTests {
    /// The server dies (SIGKILL) while `export -m` is reading: a clear error, exit 1, and no
    /// meta.json, partial or otherwise.
    @Test func exportFailsCleanlyWhenTheServerIsKilledMidRead() async throws {
        let dir = TempDir("mariadb-kill")
        let sample = try SampleDatabase.write(root: dir.sub("db"), rowsPerSegment: 10)
        let server = try PrivateMariaDB()
        let admin = try server.connect()
        let scratch = try ScratchDatabase(admin: admin)
        try scratch.createMilvusSchema()
        try scratch.copyRows(fromSQLite: sample.metaPath)

        // Hold the read at TableFiles: a second session locks it, so the export waits mid-read.
        let locker = try server.connect(scratch.name)
        try locker.execute("LOCK TABLES TableFiles WRITE")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cliPath)
        process.arguments = ["export", "-m", server.goDSN(scratch.name), "-o", dir.sub("out")]
        let errFile = dir.sub("export.err"), outFile = dir.sub("export.out")
        FileManager.default.createFile(atPath: errFile, contents: nil)
        FileManager.default.createFile(atPath: outFile, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errFile))
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outFile))
        process.standardInput = FileHandle.nullDevice
        try process.run()

        var waiting = false
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && process.isRunning {
            let rows = try locker.query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for table%'").rows
            if let first = rows.first?.first, let count = Int(first ?? "0"), count > 0 { waiting = true; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(waiting, "the export never waited on the locked table")
        server.kill()
        let exitDeadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < exitDeadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!process.isRunning, "export -m still runs 60 s after the server died")
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let errText = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        let outText = (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""

        #expect(process.terminationStatus == 1, "\(errText)")
        #expect(errText.contains("mysql://\(server.user)@127.0.0.1:\(server.port)/\(scratch.name)"), "\(errText)")
        #expect(errText.contains("closed the connection") || errText.contains("cannot reach"), "\(errText)")
        #expect(!errText.contains(server.password) && !outText.contains(server.password))
        #expect(!outText.contains("Exported"))
        #expect((FileManager.default.subpaths(atPath: dir.sub("out")) ?? []).isEmpty, "the export left files behind")
        locker.close()
    }
}
