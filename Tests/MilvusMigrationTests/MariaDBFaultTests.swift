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
        // pipe would never reach end of file. Spawned and reaped here (posix_spawn + waitpid).
        try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        let log = "\(runDir)/start.log"
        let script = try Spawned("/bin/bash", ["\(repo)/scripts/services/mariadb.sh", "start"], environment: environment, output: log)
        let status = script.wait()
        guard status == 0 else {
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
        let errFile = dir.sub("export.err")
        let process = try Spawned(cliPath, ["export", "-m", server.goDSN(scratch.name), "-o", dir.sub("out")],
                                  environment: ProcessInfo.processInfo.environment, output: errFile)

        var waiting = false
        var status: Int32?
        // Generous: at the start of the main run some 50 suites start at once on 2 cores, and the
        // export can take over a minute to reach its first query (a plain export took 105 s there).
        let deadline = Date().addingTimeInterval(150)
        while Date() < deadline {
            status = process.poll()
            if status != nil { break }
            // Blocked: waiting for the lock, or (as a loaded server may show it) still running its
            // query on TableFiles, which cannot finish while the lock is held.
            let rows = try locker.query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND (STATE LIKE 'Waiting for table%' OR INFO LIKE '%TableFiles%')").rows
            if let first = rows.first?.first, let count = Int(first ?? "0"), count > 0 { waiting = true; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(waiting, "the export never waited on the locked table")
        server.kill()
        let exitDeadline = Date().addingTimeInterval(60)
        if status == nil { status = process.poll() }
        while status == nil && Date() < exitDeadline {
            try await Task.sleep(for: .milliseconds(50))
            status = process.poll()
        }
        #expect(status != nil, "export -m still runs 60 s after the server died")
        if status == nil { kill(process.pid, SIGKILL); status = process.wait() }
        let errText = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        let outText = errText
        #expect(status == 1, "\(errText)")
        #expect(errText.contains("mysql://\(server.user)@127.0.0.1:\(server.port)/\(scratch.name)"), "\(errText)")
        #expect(errText.contains("closed the connection") || errText.contains("cannot reach"), "\(errText)")
        #expect(!errText.contains(server.password) && !outText.contains(server.password))
        #expect(!outText.contains("Exported"))
        #expect((FileManager.default.subpaths(atPath: dir.sub("out")) ?? []).isEmpty, "the export left files behind")
        locker.close()
    }
}

/// A child process whose stdout and stderr go to one file, reaped with waitpid (not Foundation's
/// Process, whose exit notification never came for a script that leaves a daemon behind).
struct Spawned {
    let pid: pid_t

    init(_ executable: String, _ arguments: [String], environment: [String: String], output: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard rc == 0 else { throw MigrationError.usage("cannot start \(executable): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    /// The exit status once the process ended (128+signal when killed), else nil.
    func poll() -> Int32? {
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        guard rc == pid else { return nil }
        return Spawned.decode(status)
    }

    /// Waits for the end (blocking; for short-lived processes).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return Spawned.decode(status)
    }

    static func decode(_ status: Int32) -> Int32 {
        (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }
}
