import Foundation
import GRDB
import Testing
import Milvus1xFixture
@testable import MilvusMigration

// MARK: - DSN parsing (no server)

@Suite struct MySQLDSNTests {
    func parse(_ text: String) throws -> MySQLDSN { try MySQLDSN(parsing: text) }

    @Test func goFormOfTheUserGuide() throws {
        let dsn = try parse("root:123456@tcp(127.0.0.1:3306)/milvus?charset=utf8mb4&parseTime=True&loc=Local")
        #expect(dsn.user == "root" && dsn.password.revealed == "123456")
        #expect(dsn.endpoint == .tcp(host: "127.0.0.1", port: 3306) && dsn.database == "milvus")
        #expect(dsn.tls == .disabled && dsn.connectTimeout == 10)
        #expect(dsn.redacted == "mysql://root@127.0.0.1:3306/milvus")
    }

    @Test func goFormDefaults() throws {
        #expect(try parse("u:p@tcp(db.example.com)/m").endpoint == .tcp(host: "db.example.com", port: 3306))
        #expect(try parse("u:p@tcp(localhost:3307)/m").endpoint == .tcp(host: "localhost", port: 3307))
        #expect(try parse("u:p@/m").endpoint == .tcp(host: "127.0.0.1", port: 3306))
        #expect(try parse("u:p@tcp/m").endpoint == .tcp(host: "127.0.0.1", port: 3306))
        #expect(try parse("u:p@tcp([::1]:3310)/m").endpoint == .tcp(host: "::1", port: 3310))
        #expect(try parse("u:p@tcp([::1]:3310)/m").redacted == "mysql://u@[::1]:3310/m")
        let noPassword = try parse("reader@tcp(10.0.0.5:3306)/milvus")
        #expect(noPassword.user == "reader" && noPassword.password.isEmpty)
        let emptyPassword = try parse("reader:@tcp(10.0.0.5:3306)/milvus")
        #expect(emptyPassword.user == "reader" && emptyPassword.password.isEmpty)
    }

    @Test(arguments: [
        "p@ss",
        "p:ss",
        "p@ss:w:rd@",
        "@:@:",
        "a/b)c(d",
        "x@tcp(evil:1)/db",
        "pa?ss&w=1",
        "pass word",
        "ümlaut€",
    ])
    func trickyPasswordsInTheGoForm(password: String) throws {
        let dsn = try parse("mm_user:\(password)@tcp(127.0.0.1:3306)/milvus?charset=utf8mb4&parseTime=True&loc=Local")
        #expect(dsn.user == "mm_user")
        #expect(dsn.password.revealed == password)
        #expect(dsn.endpoint == .tcp(host: "127.0.0.1", port: 3306) && dsn.database == "milvus")
        #expect(!"\(dsn)".contains(password) && !String(reflecting: dsn).contains(password))
    }

    @Test func theUserEndsAtTheFirstColon() throws {
        let dsn = try parse("us:er:pw@tcp(h:1)/d")
        #expect(dsn.user == "us" && dsn.password.revealed == "er:pw")
    }

    @Test func unixSocket() throws {
        let dsn = try parse("u:p@ss@unix(/var/run/mysqld/mysqld.sock)/milvus?loc=Local")
        #expect(dsn.endpoint == .unixSocket(path: "/var/run/mysqld/mysqld.sock"))
        #expect(dsn.password.revealed == "p@ss" && dsn.database == "milvus")
        #expect(dsn.redacted == "mysql://u@unix(/var/run/mysqld/mysqld.sock)/milvus")
        #expect(throws: MySQLDSN.ParseError.self) { try parse("u:p@unix/milvus") }
    }

    @Test func urlForm() throws {
        let dsn = try parse("mysql://root:s%40cr%3At%2F%25@db.local:3307/mil%76us?tls=skip-verify&timeout=1m30s&readTimeout=500ms&writeTimeout=2")
        #expect(dsn.user == "root" && dsn.password.revealed == "s@cr:t/%")
        #expect(dsn.endpoint == .tcp(host: "db.local", port: 3307) && dsn.database == "milvus")
        #expect(dsn.tls == .skipVerify && dsn.connectTimeout == 90 && dsn.readTimeout == 1 && dsn.writeTimeout == 2)
        #expect(dsn.redacted == "mysql://root@db.local:3307/milvus")
        #expect(try parse("MYSQL://u:p@h/m").endpoint == .tcp(host: "h", port: 3306))
        // Unencoded '@' in the password: the last '@' before the host still splits.
        let raw = try parse("mysql://u:p@ss@127.0.0.1/m")
        #expect(raw.password.revealed == "p@ss" && raw.endpoint == .tcp(host: "127.0.0.1", port: 3306))
        #expect(try parse("mysql://u:p@localhost/m?socket=/tmp/my.sock").endpoint == .unixSocket(path: "/tmp/my.sock"))
        #expect(try parse("mysql://u@[fe80::1]:3306/m").endpoint == .tcp(host: "fe80::1", port: 3306))
    }

    @Test func tlsAndTimeoutParameters() throws {
        #expect(try parse("u:p@tcp(h)/m?tls=true").tls == .verified)
        #expect(try parse("u:p@tcp(h)/m?tls=false").tls == .disabled)
        #expect(try parse("u:p@tcp(h)/m?tls=preferred").tls == .preferred)
        let ca = try parse("u:p@tcp(h)/m?tlsCA=%2Fetc%2Fca.pem")
        #expect(ca.tls == .verified && ca.tlsCAFile == "/etc/ca.pem")
        #expect(try parse("u:p@tcp(h)/m?timeout=2s&readTimeout=1h").readTimeout == 3600)
        #expect(try parse("u:p@tcp(h)/m?timeout=2s").connectTimeout == 2)
        #expect(try parse("u:p@tcp(h)/m?timeout=1500ms").connectTimeout == 2)
        // Parameters of the Go driver this tool does not need are ignored.
        #expect(try parse("u:p@tcp(h)/m?collation=utf8mb4_bin&allowNativePasswords=true&maxAllowedPacket=0&interpolateParams=true").database == "m")
    }

    @Test(arguments: [
        ("", "is empty"),
        ("u:p@tcp(h:3306)", "no '/database'"),
        ("u:p@tcp(h:3306)/", "names no database"),
        ("u:p@tcp(h:99999)/m", "port is not a number"),
        ("u:p@tcp(h:x)/m", "port is not a number"),
        ("u:p@udp(h:1)/m", "unsupported protocol"),
        ("u:p@tcp(h:1/m", "not closed by ')'"),
        ("u:p@tcp(h)/m?tls=custom", "tls parameter"),
        ("u:p@tcp(h)/m?timeout=soon", "timeout in the MySQL DSN is not a duration"),
        ("postgres://u:p@h/m", "unsupported scheme 'postgres://'"),
        ("mysql://u:p@h:0/m", "port is not a number"),
        ("mysql://u:p@h", "names no database"),
        ("mysql://u:p%zz@h/m", "bad %-escape"),
    ])
    func badDSNsAreNamed(text: String, message: String) {
        #expect { try parse(text) } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func parseErrorsNeverShowThePassword() {
        // Malformed in ways that make the parser look at the password.
        for text in ["u:s3cr@t9:77/m", "u:s3cr@t9(/m", "mysql://u:s3cr@t9:77/m", "u:s3cr@t9@udp(x)/m"] {
            do {
                _ = try parse(text)
            } catch {
                #expect(!"\(error)".contains("t9") && !"\(error)".contains("s3cr"), "\(error)")
            }
        }
    }

    @Test func configValidatesTheURLWithoutShowingIt() throws {
        let text = "dumper:\n  worker:\n    workMode: milvus1x\nmeta:\n  mode: mysql\n  mysqlUrl: root:hunter2@tcp(127.0.0.1:3306)/\n"
        let c = try MigrationConfig.parse(text, file: "m.yaml")
        #expect { try c.validate(.meta) } throws: { error in
            "\(error)".contains("key 'meta.mysqlUrl'") && "\(error)".contains("names no database") && !"\(error)".contains("hunter2")
        }
        let good = try MigrationConfig.parse(text.replacingOccurrences(of: ")/\n", with: ")/milvus\n"), file: "m.yaml")
        try good.validate(.meta)
        #expect(!"\(good) \(String(reflecting: good))".contains("hunter2"))
    }

    @Test func exportWithABadDSNIsAUsageError() async throws {
        let dir = TempDir()
        let (status, _, err) = try await run(cliPath, ["export", "-m", "root:hunter2@tcp(127.0.0.1:3306)", "-o", dir.sub("out")])
        #expect(status == 2)
        #expect(err.contains("-m: the MySQL DSN has no '/database' part") && !err.contains("hunter2"))
    }
}

// MARK: - Against a real MariaDB (scripts/test.sh, or netns-run.sh --services mariadb)

enum MariaDBTestServer {
    /// The tests run when the test command started MariaDB; then they fail, not skip, if it is unreachable.
    static var enabled: Bool {
        (ProcessInfo.processInfo.environment["MM_SERVICES"] ?? "").split(separator: ",").contains("mariadb")
    }

    static func env(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw MigrationError.usage("MM_SERVICES names mariadb but \(name) is not set")
        }
        return value
    }

    static var host: String { get throws { try env("MM_MYSQL_HOST") } }
    static var port: Int { get throws { Int(try env("MM_MYSQL_PORT")) ?? 3306 } }
    static var user: String { get throws { try env("MM_MYSQL_USER") } }
    static var password: String { get throws { try env("MM_MYSQL_PASSWORD") } }
    static var socket: String { get throws { try env("MM_MYSQL_SOCKET") } }

    /// The Go-form DSN of the test account for `database`.
    static func goDSN(_ database: String, user: String? = nil, password: String? = nil, params: String = "charset=utf8mb4&parseTime=True&loc=Local") throws -> String {
        "\(try user ?? self.user):\(try password ?? self.password)@tcp(\(try host):\(try port))/\(database)\(params.isEmpty ? "" : "?\(params)")"
    }

    static func admin(_ database: String = "mysql") throws -> MySQLConnection {
        var dsn = MySQLDSN(user: try user, password: Secret(try password), endpoint: .tcp(host: try host, port: try port), database: database)
        dsn.connectTimeout = 5
        return try MySQLConnection(dsn)
    }
}

/// A fresh database on the test server, dropped at deinit (with any users made through it).
final class ScratchDatabase {
    let name: String
    let admin: MySQLConnection
    private var users: [String] = []

    /// `admin`: a connection to another server than the test command's (default: that one).
    init(admin: MySQLConnection? = nil) throws {
        name = "mm_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        self.admin = try admin ?? MariaDBTestServer.admin()
        try self.admin.execute("CREATE DATABASE `\(name)` CHARACTER SET utf8mb4")
    }

    /// A fresh database with the 1.x MySQL schema and the rows of a 1.x `meta.sqlite`.
    convenience init(milvusMetaFrom sqlitePath: String) throws {
        try self.init()
        try createMilvusSchema()
        try copyRows(fromSQLite: sqlitePath)
    }

    deinit {
        try? admin.execute("DROP DATABASE IF EXISTS `\(name)`")
        for user in users { try? admin.execute("DROP USER IF EXISTS \(admin.quote(user))@'%'") }
        admin.close()
    }

    func execute(_ sql: String) throws {
        try admin.execute(sql)
    }

    /// The Milvus 1.x MySQL meta schema (docs/FORMAT.md §4.3), in 1.x's creation order.
    func createMilvusSchema(version: String = "1.1.1", without column: String? = nil) throws {
        let tables = [
            "id BIGINT PRIMARY KEY AUTO_INCREMENT", "table_id VARCHAR(255) UNIQUE NOT NULL", "state INT NOT NULL",
            "dimension SMALLINT NOT NULL", "created_on BIGINT NOT NULL", "flag BIGINT DEFAULT 0 NOT NULL",
            "index_file_size BIGINT DEFAULT 1024 NOT NULL", "engine_type INT DEFAULT 1 NOT NULL",
            "index_params VARCHAR(512) NOT NULL", "metric_type INT DEFAULT 1 NOT NULL", "owner_table VARCHAR(255) NOT NULL",
            "partition_tag VARCHAR(255) NOT NULL", "version VARCHAR(64) DEFAULT '\(version)'", "flush_lsn BIGINT DEFAULT 0 NOT NULL",
        ].filter { column == nil || !$0.hasPrefix("\(column!) ") }
        let files = [
            "id BIGINT PRIMARY KEY AUTO_INCREMENT", "table_id VARCHAR(255) NOT NULL", "segment_id VARCHAR(255) NOT NULL",
            "engine_type INT DEFAULT 1 NOT NULL", "file_id VARCHAR(255) NOT NULL", "file_type INT DEFAULT 0 NOT NULL",
            "file_size BIGINT DEFAULT 0 NOT NULL", "row_count BIGINT DEFAULT 0 NOT NULL", "updated_time BIGINT NOT NULL",
            "created_on BIGINT NOT NULL", "date INT DEFAULT -1 NOT NULL", "flush_lsn BIGINT DEFAULT 0 NOT NULL",
        ]
        try execute("CREATE TABLE IF NOT EXISTS `\(name)`.Tables (\(tables.joined(separator: ", ")))")
        try execute("CREATE TABLE IF NOT EXISTS `\(name)`.TableFiles (\(files.joined(separator: ", ")))")
        try execute("CREATE TABLE IF NOT EXISTS `\(name)`.Environment (global_lsn BIGINT NOT NULL)")
        try execute("CREATE TABLE IF NOT EXISTS `\(name)`.Fields (collection_id VARCHAR(255) NOT NULL, field_name VARCHAR(255) NOT NULL, field_type INT DEFAULT 0 NOT NULL, field_params VARCHAR(255) NOT NULL)")
    }

    /// Copies the `Tables`, `TableFiles` and `Fields` rows of a 1.x `meta.sqlite` (ids included), column by column.
    func copyRows(fromSQLite path: String) throws {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        for table in ["Tables", "TableFiles", "Fields"] {
            let rows = try queue.read { try Row.fetchAll($0, sql: "SELECT * FROM \(table)") }
            for row in rows {
                let names = Array(row.columnNames)
                let values = names.map { name -> String in
                    switch row[name] as DatabaseValue? {
                    case .none: return "NULL"
                    case .some(let value):
                        switch value.storage {
                        case .null: return "NULL"
                        case .int64(let n): return String(n)
                        case .double(let d): return String(d)
                        case .string(let s): return admin.quote(s)
                        case .blob(let b): return admin.quote(String(decoding: b, as: UTF8.self))
                        }
                    }
                }
                try execute("INSERT INTO `\(name)`.`\(table)` (\(names.joined(separator: ", "))) VALUES (\(values.joined(separator: ", ")))")
            }
        }
    }

    /// A user that may only read this database.
    func makeReader(user: String, password: String) throws {
        try execute("CREATE USER \(admin.quote(user))@'%' IDENTIFIED BY \(admin.quote(password))")
        users.append(user)
        try execute("GRANT SELECT ON `\(name)`.* TO \(admin.quote(user))@'%'")
    }
}

/// The scenario the SQLite reader tests use: partitions (one tag needing sanitizing, one needing
/// quoting and utf8mb4), a binary collection, INDEX + BACKUP rows, a TO_INDEX row, NEW / TO_DELETE /
/// NEW_MERGE / NEW_INDEX rows, deletions, a dropped collection and a dropped partition, a Fields row.
func makeMySQLScenario(at root: String) throws -> Milvus1xDatabase {
    let db = try Milvus1xDatabase(root: root, version: "1.1.1")
    let row8: (Int) -> [Float] = { i in (0..<8).map { Float(i) + Float($0) / 8 } }
    db.addCollection("books", dimension: 8, metric: 2, engineType: 2, indexParams: #"{"nlist":16384}"#)
    let sales = db.addPartition(of: "books", tag: "2023-Q1 sales")
    let quoted = db.addPartition(of: "books", tag: "día 'o' \\ \"q\" 🚀")
    let gone = db.addPartition(of: "books", tag: "gone", state: 1)
    try db.addSegment(table: "books", ids: [1, 2, 3, 4], floatRows: (0..<4).map(row8), deleteBatches: [[1], [3, 1]])
    try db.addSegment(table: "books", ids: [5, 6], floatRows: (0..<2).map(row8), state: .indexed(engineType: 2))
    try db.addSegment(table: "books", ids: [7], floatRows: [row8(7)], state: .toIndex)
    for type: Int64 in [0, 4, 5, 6] {
        try db.addSegment(table: "books", ids: [90 + type], floatRows: [row8(9)], state: .notLive(fileType: type))
    }
    db.addFileRow(table: "books", segmentId: db.nextGeneratedId(), fileType: 0)
    try db.addSegment(table: sales, ids: [10, 11, 12], floatRows: (0..<3).map(row8))
    try db.addSegment(table: quoted, ids: [20], floatRows: [row8(1)])
    try db.addSegment(table: gone, ids: [30], floatRows: [row8(2)], state: .notLive(fileType: 4))

    db.addCollection("fingerprints", dimension: 64, metric: 3)
    let bits: (Int) -> [UInt8] = { i in (0..<8).map { UInt8(truncatingIfNeeded: i * 31 + $0) } }
    try db.addSegment(table: "fingerprints", ids: [100, 101, 102], binaryRows: (0..<3).map(bits), deleteBatches: [[0]])
    try db.addSegment(table: "fingerprints", ids: [103, 104], binaryRows: (0..<2).map(bits), state: .indexed(engineType: 10))

    db.addCollection("dropped", dimension: 8, state: 1)
    try db.addSegment(table: "dropped", ids: [200], floatRows: [row8(0)], state: .notLive(fileType: 4))
    // The largest dimension 1.x allows that a signed SMALLINT holds.
    db.addCollection("wide", dimension: 32760, metric: 1, flag: 0)
    try db.finish()
    try DatabaseQueue(path: db.metaPath).write { db in
        try db.execute(sql: "INSERT INTO Fields VALUES('books', 'price', 3, '{}')")
    }
    return db
}

@Suite(.enabled(if: MariaDBTestServer.enabled, "MM_SERVICES does not name mariadb: run scripts/test.sh or scripts/netns-run.sh --services mariadb"))
struct MySQLMetaTests {
    @Test func serverIsReachable() throws {
        let admin = try MariaDBTestServer.admin()
        let version = try admin.query("SELECT VERSION() AS v").namedRows.first?.string("v") ?? nil
        #expect(version?.lowercased().contains("mariadb") == true)
    }

    @Test func snapshotEqualsTheSQLiteOne() throws {
        let dir = TempDir()
        let db = try makeMySQLScenario(at: dir.path)
        let scratch = try ScratchDatabase(milvusMetaFrom: db.metaPath)

        let fromSQLite = try SQLiteMetaReader(path: db.metaPath).read()
        let dsn = try MySQLDSN(parsing: MariaDBTestServer.goDSN(scratch.name))
        let fromMySQL = try MySQLMetaReader(dsn: dsn).read()
        #expect(fromMySQL.origin == "mysql://\(try MariaDBTestServer.user)@\(try MariaDBTestServer.host):\(try MariaDBTestServer.port)/\(scratch.name)")
        #expect(fromMySQL.tables.count == 7 && fromMySQL.files.count == 16 && fromMySQL.fieldRows == 1)
        var same = fromMySQL
        same.origin = fromSQLite.origin
        #expect(same == fromSQLite)
        #expect(fromMySQL.tables.contains { $0.partitionTag == "día 'o' \\ \"q\" 🚀" })
        #expect(fromMySQL.tables.contains { $0.dimension == 32760 })

        let assembled = MetaAssembler.assemble(fromMySQL)
        #expect(assembled.diagnostics.errors.isEmpty)
        #expect(assembled.diagnostics.warnings.map(\.message).contains { $0.contains("table Fields has 1 row(s)") })
        #expect(MetaJSON.encode(assembled) == MetaJSON.encode(MetaAssembler.assemble(fromSQLite)))
    }

    @Test func exportMinusMWritesTheSameMetaJSONAsMinusS() async throws {
        let dir = TempDir()
        let db = try makeMySQLScenario(at: dir.sub("db"))
        let scratch = try ScratchDatabase(milvusMetaFrom: db.metaPath)

        let sqlite = try await run(cliPath, ["export", "-s", db.metaPath, "-o", dir.sub("out-s")])
        #expect(sqlite.0 == 0, "\(sqlite.2)")
        let started = Date()
        let mysql = try await run(cliPath, ["export", "-m", MariaDBTestServer.goDSN(scratch.name), "-o", dir.sub("out-m")])
        let seconds = Date().timeIntervalSince(started)
        #expect(mysql.0 == 0, "\(mysql.2)")
        #expect(mysql.1.contains("Exported 3 collection(s), 2 partition(s), 7 segment(s)"), "\(mysql.1)")
        #expect(mysql.1.replacingOccurrences(of: "out-m", with: "out-s") == sqlite.1)
        let password = try MariaDBTestServer.password
        #expect(mysql.2.contains("table Fields has 1 row(s)") && !mysql.2.contains(password))
        let fromSQLite = try readBytes(dir.sub("out-s/meta.json"))
        let fromMySQL = try readBytes(dir.sub("out-m/meta.json"))
        #expect(fromMySQL == fromSQLite)
        #expect(String(decoding: fromMySQL, as: UTF8.self).contains(#""name":"_2023_Q1_sales""#))
        print("export -m of the scenario: \(String(format: "%.3f", seconds)) s (CLI process, connect, read, write)")

        // The URL form and the unix socket reach the same rows.
        let url = "mysql://\(try MariaDBTestServer.user):\(try MariaDBTestServer.password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)@\(try MariaDBTestServer.host):\(try MariaDBTestServer.port)/\(scratch.name)"
        let socket = "\(try MariaDBTestServer.user):\(try MariaDBTestServer.password)@unix(\(try MariaDBTestServer.socket))/\(scratch.name)?loc=Local"
        for (label, dsn) in [("url", url), ("socket", socket)] {
            let out = dir.sub("out-\(label)")
            let result = try await run(cliPath, ["export", "-m", dsn, "-o", out])
            #expect(result.0 == 0, "\(label): \(result.2)")
            #expect(try readBytes("\(out)/meta.json") == fromSQLite, "\(label)")
        }
    }

    @Test func minusSWinsOverMinusM() async throws {
        let dir = TempDir()
        let db = try makeMySQLScenario(at: dir.sub("db"))
        let result = try await run(cliPath, ["export", "-s", db.metaPath, "-m", "root:x@tcp(127.0.0.1:1)/nothing", "-o", dir.sub("out")])
        #expect(result.0 == 0, "\(result.2)")
        #expect(FileManager.default.fileExists(atPath: dir.sub("out/meta.json")))
    }

    @Test func metaModeMySQLPlansLikeSQLite() async throws {
        let dir = TempDir()
        let db = try makeMySQLScenario(at: dir.sub("db"))
        let scratch = try ScratchDatabase(milvusMetaFrom: db.metaPath)
        func config(_ meta: String) throws -> String {
            let path = dir.sub("\(meta).yaml")
            let metaLines = meta == "mysql"
                ? "mode: mysql\n  mysqlUrl: ${MM_TEST_MYSQL_URL}"
                : "mode: sqlite\n  sqliteFile: \(db.metaPath)"
            try Data("""
            dumper:
              worker:
                workMode: milvus1x
            meta:
              \(metaLines)
            source:
              mode: local
              local:
                tablesDir: \(db.tablesPath)
            """.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        var environment = ProcessInfo.processInfo.environment
        environment["MM_TEST_MYSQL_URL"] = try MariaDBTestServer.goDSN(scratch.name)
        let mysql = try await run(cliPath, ["plan", "-c", config("mysql"), "--json"], environment: environment)
        let sqlite = try await run(cliPath, ["plan", "-c", config("sqlite"), "--json"])
        #expect(mysql.0 == 0 && sqlite.0 == 0, "\(mysql.2) \(sqlite.2)")
        let a = try JSONSerialization.jsonObject(with: Data(mysql.1.utf8)) as! [String: Any]
        let b = try JSONSerialization.jsonObject(with: Data(sqlite.1.utf8)) as! [String: Any]
        #expect(a["ok"] as? Bool == true)
        #expect(a["liveRows"] as? Int == b["liveRows"] as? Int)
        #expect(a["liveRows"] as? Int == (4 - 2) + 2 + 1 + 3 + 1 + (3 - 1) + 2)
        #expect((a["collections"] as! [[String: Any]]).map { $0["collection"] as! String } == ["books", "fingerprints", "wide"])
        let password = try MariaDBTestServer.password
        #expect(!mysql.1.contains(password) && !mysql.2.contains(password))
    }

    @Test func passwordWithAtAndColonLogsIn() async throws {
        let dir = TempDir()
        let db = try makeMySQLScenario(at: dir.sub("db"))
        let scratch = try ScratchDatabase(milvusMetaFrom: db.metaPath)
        let user = "mm_r_" + scratch.name.suffix(8)
        let password = "p@ss:w0rd@tcp(x:1)/y?z=1&:"
        try scratch.makeReader(user: user, password: password)

        let goForm = try MariaDBTestServer.goDSN(scratch.name, user: user, password: password)
        let snapshot = try MySQLMetaReader(dsn: MySQLDSN(parsing: goForm)).read()
        #expect(snapshot.tables.count == 7 && snapshot.origin.hasPrefix("mysql://\(user)@"))

        let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let urlForm = "mysql://\(user):\(encoded)@\(try MariaDBTestServer.host):\(try MariaDBTestServer.port)/\(scratch.name)"
        #expect(try MySQLMetaReader(dsn: MySQLDSN(parsing: urlForm)).read() == snapshot)

        let result = try await run(cliPath, ["export", "-m", goForm, "-o", dir.sub("out")])
        #expect(result.0 == 0, "\(result.2)")
        #expect(!result.1.contains("w0rd") && !result.2.contains("w0rd"))

        // A wrong password for the same user: refused, and never echoed.
        #expect {
            try MySQLMetaReader(dsn: MySQLDSN(parsing: MariaDBTestServer.goDSN(scratch.name, user: user, password: "p@ss:wrong@"))).read()
        } throws: { error in
            "\(error)".contains("refused the login") && "\(error)".contains("Access denied for user '\(user)'") && !"\(error)".contains("wrong")
        }
    }

    @Test func unreachableServer() async throws {
        let dsn = try MySQLDSN(parsing: "root:hunter2@tcp(127.0.0.1:1)/milvus?timeout=3s")
        #expect {
            try MySQLMetaReader(dsn: dsn).read()
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("meta mysql://root@127.0.0.1:1/milvus: cannot reach the MySQL server") && !text.contains("hunter2")
        }
        let socket = try MySQLDSN(parsing: "root:hunter2@unix(/nonexistent/mysqld.sock)/milvus")
        #expect {
            try MySQLMetaReader(dsn: socket).read()
        } throws: { "\($0)".contains("mysql://root@unix(/nonexistent/mysqld.sock)/milvus: cannot reach the MySQL server") }

        let cli = try await run(cliPath, ["export", "-m", "root:hunter2@tcp(127.0.0.1:1)/milvus", "-o", TempDir().sub("out")])
        #expect(cli.0 == 1)
        #expect(cli.2.contains("error: meta mysql://root@127.0.0.1:1/milvus: cannot reach the MySQL server") && !cli.2.contains("hunter2"))
    }

    @Test func silentServerTimesOut() throws {
        // A loopback listener that never accepts: the TCP connect succeeds, the greeting never comes.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let dsn = try MySQLDSN(parsing: "root:hunter2@tcp(127.0.0.1:\(port))/milvus?timeout=1s&readTimeout=1s&writeTimeout=1s")
        let started = Date()
        #expect {
            try MySQLMetaReader(dsn: dsn).read()
        } throws: { error in
            "\(error)".contains("mysql://root@127.0.0.1:\(port)/milvus: cannot reach the MySQL server") && !"\(error)".contains("hunter2")
        }
        let seconds = Date().timeIntervalSince(started)
        #expect(seconds < 10, "took \(seconds) s")
        print("silent server: failed after \(String(format: "%.2f", seconds)) s with timeout=1s&readTimeout=1s")
    }

    @Test func badCredentials() throws {
        let wrong = "not-\(try MariaDBTestServer.password)-x"
        let dsn = try MySQLDSN(parsing: MariaDBTestServer.goDSN("mysql", password: wrong))
        #expect {
            try MySQLMetaReader(dsn: dsn).read()
        } throws: { error in
            let text = "\(error)"
            return text.contains("meta mysql://\(try MariaDBTestServer.user)@") && text.contains("the MySQL server refused the login")
                && text.contains("(MySQL error 1045)") && text.contains("check the user and password") && !text.contains(wrong)
        }
    }

    @Test func unknownDatabase() throws {
        let name = "mm_missing_" + UUID().uuidString.prefix(8).lowercased()
        let dsn = try MySQLDSN(parsing: MariaDBTestServer.goDSN(name))
        #expect {
            try MySQLMetaReader(dsn: dsn).read()
        } throws: { error in
            "\(error)".contains("/\(name): the MySQL server has no database '\(name)'") && "\(error)".contains("(MySQL error 1049)")
        }
    }

    @Test func databaseWithoutMilvusTables() async throws {
        let scratch = try ScratchDatabase()
        let dsn = try MySQLDSN(parsing: MariaDBTestServer.goDSN(scratch.name))
        #expect(throws: MigrationError.meta(source: dsn.redacted, message: "this database holds no Milvus 1.x meta (missing tables Tables, TableFiles)")) {
            try MySQLMetaReader(dsn: dsn).read()
        }
        try scratch.execute("CREATE TABLE `\(scratch.name)`.Tables (id BIGINT)")
        #expect(throws: MigrationError.meta(source: dsn.redacted, message: "this database holds no Milvus 1.x meta (missing table TableFiles)")) {
            try MySQLMetaReader(dsn: dsn).read()
        }
        let cli = try await run(cliPath, ["export", "-m", MariaDBTestServer.goDSN(scratch.name), "-o", TempDir().sub("out")])
        #expect(cli.0 == 1 && cli.2.contains("this database holds no Milvus 1.x meta"))
    }

    @Test func missingColumnIsNamed() throws {
        let scratch = try ScratchDatabase()
        try scratch.createMilvusSchema(without: "flush_lsn")
        let dsn = try MySQLDSN(parsing: MariaDBTestServer.goDSN(scratch.name))
        #expect(throws: MigrationError.meta(source: dsn.redacted, message: "table Tables lacks column flush_lsn; not a Milvus 0.9–1.1 meta")) {
            try MySQLMetaReader(dsn: dsn).read()
        }
    }

    @Test func emptyMilvusMetaReadsAsEmpty() throws {
        let scratch = try ScratchDatabase()
        try scratch.createMilvusSchema()
        let dsn = try MySQLDSN(parsing: MariaDBTestServer.goDSN(scratch.name))
        let snapshot = try MySQLMetaReader(dsn: dsn).read()
        #expect(snapshot.tables.isEmpty && snapshot.files.isEmpty && snapshot.fieldRows == 0)
        // version is the one nullable column of the 1.x MySQL schema; NULL reads as "" (as in SQLite).
        try scratch.execute("INSERT INTO `\(scratch.name)`.Tables (table_id, state, dimension, created_on, index_params, owner_table, partition_tag, version) VALUES ('c', 0, -32768, 1, '{}', '', '', NULL)")
        let row = try #require(try MySQLMetaReader(dsn: dsn).read().tables.first)
        #expect(row.version == "" && row.dimension == -32768 && row.indexFileSize == 1024 && row.engineType == 1 && row.flushLSN == 0)
    }

    @Test func tlsRequiredAgainstAPlainServer() throws {
        // The test server has no TLS: tls=true must fail clearly, tls=preferred must fall back to plain.
        let scratch = try ScratchDatabase()
        try scratch.createMilvusSchema()
        for mode in ["true", "skip-verify"] {
            let required = try MySQLDSN(parsing: MariaDBTestServer.goDSN(scratch.name, params: "tls=\(mode)"))
            #expect {
                try MySQLMetaReader(dsn: required).read()
            } throws: { error in
                let text = "\(error)"
                return text.contains("the TLS handshake with the MySQL server failed") && text.contains("(MySQL error 2026)")
                    && (mode == "true" ? text.contains("SSL is required, but the server does not support it") : text.contains("tls=skip-verify requires TLS, but the server does not offer it"))
            }
        }
        let preferred = try MySQLDSN(parsing: MariaDBTestServer.goDSN(scratch.name, params: "tls=preferred"))
        #expect(try MySQLMetaReader(dsn: preferred).read().tables.isEmpty)
    }

    @Test func nonIntegerValueIsNamed() throws {
        let scratch = try ScratchDatabase()
        try scratch.createMilvusSchema()
        try scratch.execute("ALTER TABLE `\(scratch.name)`.TableFiles MODIFY row_count VARCHAR(20) NOT NULL")
        try scratch.execute("INSERT INTO `\(scratch.name)`.TableFiles (id, table_id, segment_id, file_id, row_count, updated_time, created_on) VALUES (7, 'c', '1', '1', 'many', 0, 0)")
        let dsn = try MySQLDSN(parsing: MariaDBTestServer.goDSN(scratch.name))
        #expect(throws: MigrationError.meta(source: dsn.redacted, message: "table TableFiles, row id 7, column row_count: holds 'many', expected a whole number")) {
            try MySQLMetaReader(dsn: dsn).read()
        }
    }
}
