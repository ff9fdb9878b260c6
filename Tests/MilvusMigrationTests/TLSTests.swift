import Foundation
import Testing
@testable import MilvusMigration

// MARK: - The TLS rule and the plaintext-credentials warning (no server needed)

@Suite struct TLSRuleTests {
    static func config(endpoint: String = "milvus.example.com:19530", user: String? = "root", tls: [String: String] = [:]) throws -> MigrationConfig {
        var text = """
        dumper:
          worker:
            workMode: milvus1x
        target:
          milvus2x:
            endpoint: "\(endpoint)"

        """
        if let user { text += "    username: \(user)\n    password: pass-word-1\n" }
        if !tls.isEmpty {
            text += "    tls:\n"
            for (k, v) in tls.sorted(by: { $0.key < $1.key }) { text += "      \(k): \(v)\n" }
        }
        return try MigrationConfig.parse(text, file: "m.yaml")
    }

    @Test func endpointForms() throws {
        let plain = try MilvusEndpoint(parsing: "milvus:19530")
        #expect(!plain.tls && !plain.explicitPlaintext && plain.port == 19530 && plain.hostKind == .name)
        let https = try MilvusEndpoint(parsing: "https://milvus.example.com/db1")
        #expect(https.tls && https.port == 443 && https.database == "db1" && https.description == "https://milvus.example.com:443")
        let http = try MilvusEndpoint(parsing: "HTTP://10.0.0.5:19531")
        #expect(!http.tls && http.explicitPlaintext && http.hostKind == .ipv4)
        #expect(try MilvusEndpoint(parsing: "tcp://[::1]:19530").explicitPlaintext)
        #expect(try MilvusEndpoint(parsing: "[::1]:19530").hostKind == .ipv6)
    }

    /// Defect 11: the README says any tls.* key turns TLS on; serverName alone did not, so the
    /// authorization header went in plaintext.
    @Test(arguments: [
        ["serverName": "milvus.test"],
        ["caFile": "/etc/ssl/ca.pem"],
        ["certFile": "/c.pem", "keyFile": "/k.pem"],
        ["serverName": "milvus.test", "caFile": "/etc/ssl/ca.pem"],
    ])
    func anyTLSKeyTurnsTLSOn(keys: [String: String]) throws {
        let options = try Self.config(tls: keys).milvusOptions()
        #expect(options.endpoint.tls, "\(keys)")
        #expect(options.endpoint.description.hasPrefix("https://"))
        #expect(options.plaintextCredentialsWarning == nil)
    }

    @Test func noTLSKeyNoHTTPSMeansPlaintext() throws {
        #expect(!(try Self.config().milvusOptions()).endpoint.tls)
        #expect(try Self.config(endpoint: "https://milvus.example.com").milvusOptions().endpoint.tls)
    }

    @Test func httpEndpointWithATLSKeyIsAConfigError() throws {
        #expect {
            try Self.config(endpoint: "http://milvus.example.com:19530", tls: ["serverName": "milvus.test"]).milvusOptions()
        } throws: { error in
            guard case MigrationError.config(file: "m.yaml", key: "target.milvus2x.endpoint", let message) = error else { return false }
            return message.contains("target.milvus2x.tls.serverName asks for TLS") && message.contains("https://")
        }
    }

    @Test(arguments: ["localhost", "LOCALHOST", "localhost.", "db.localhost", "127.0.0.1", "127.8.9.10", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"])
    func loopbackHosts(host: String) {
        #expect(MilvusEndpoint.isLoopback(host))
    }

    @Test(arguments: ["milvus.example.com", "10.0.0.1", "128.0.0.1", "0.0.0.0", "::", "::2", "::ffff:10.0.0.1", "localhost.example.com",
                      "127.0.0.1.nip.io", "vm", ""])
    func nonLoopbackHosts(host: String) {
        #expect(!MilvusEndpoint.isLoopback(host))
    }

    @Test func warningOnlyForCredentialsInPlaintextToAnotherHost() throws {
        let remote = try Self.config().milvusOptions()
        let warning = try #require(remote.plaintextCredentialsWarning)
        #expect(warning.contains("user 'root'") && warning.contains("milvus.example.com:19530") && warning.contains("without TLS"))
        #expect(warning.contains("target.milvus2x.tls.caFile") && warning.contains("https://"))
        #expect(!warning.contains("pass-word-1"))
        // No credentials, TLS on, or this machine: no warning.
        #expect(try Self.config(user: nil).milvusOptions().plaintextCredentialsWarning == nil)
        #expect(try Self.config(tls: ["caFile": "/ca.pem"]).milvusOptions().plaintextCredentialsWarning == nil)
        #expect(try Self.config(endpoint: "https://milvus.example.com").milvusOptions().plaintextCredentialsWarning == nil)
        for local in ["127.0.0.1:19530", "localhost:19530", "[::1]:19530", "http://localhost:19530"] {
            #expect(try Self.config(endpoint: local).milvusOptions().plaintextCredentialsWarning == nil, "\(local)")
        }
    }

    /// A refused connection (nothing listens on loopback port 1) is "unreachable", not a TLS hint.
    @Test func refusedConnectionIsNotATLSProblem() async throws {
        var o = MilvusClient.Options(endpoint: try MilvusEndpoint(parsing: "127.0.0.1:1"))
        o.attempts = 1
        do {
            try await MilvusClient.with(o) { _ in }
            Issue.record("connected to 127.0.0.1:1")
        } catch let error as MigrationError {
            #expect("\(error)".contains("Milvus at 127.0.0.1:1: unreachable"), "\(error)")
        }
    }

    @Test func tlsFilesAreCheckedBeforeConnecting() throws {
        let dir = TempDir("tls")
        let pem = dir.sub("ca.pem"), der = dir.sub("ca.der"), fifo = dir.sub("fifo.pem")
        try Data("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".utf8).write(to: URL(fileURLWithPath: pem))
        try Data([0x30, 0x82, 0x01, 0x0a, 0x02]).write(to: URL(fileURLWithPath: der))
        #expect(mkfifo(fifo, 0o600) == 0)
        func error(_ tls: [String: String]) -> String? {
            do { try Self.config(tls: tls).validate(.milvus); return nil } catch { return "\(error)" }
        }
        #expect(error(["caFile": pem]) == nil)
        #expect(error(["caFile": dir.sub("missing.pem")]) == "m.yaml: key 'target.milvus2x.tls.caFile': '\(dir.sub("missing.pem"))' does not exist")
        #expect(error(["caFile": der])?.contains("key 'target.milvus2x.tls.caFile': '\(der)' is not a PEM file") == true)
        // A FIFO is refused without being opened (opening it would block).
        #expect(error(["caFile": fifo]) == "m.yaml: key 'target.milvus2x.tls.caFile': '\(fifo)' is not a regular file")
        #expect(error(["certFile": pem, "keyFile": der])?.contains("key 'target.milvus2x.tls.keyFile'") == true)
        #expect(error(["certFile": pem])?.contains("tls.certFile and tls.keyFile go together") == true)
    }
}

// MARK: - The warning through the CLI, against the plaintext Milvus of the main test phase

/// 0.0.0.0 is not a loopback name, so credentials sent there draw the warning, yet Linux delivers
/// a connection to 0.0.0.0 to this machine (here: the test namespace's own Milvus); no packet
/// leaves the host.
@Suite(.serialized, .enabled(if: milvusUp && ProcessInfo.processInfo.environment["MILVUS_TLS_MODE"] == nil && MilvusTestEnv.authEnabled,
                             "needs the plaintext Milvus with authentication started by scripts/test.sh"))
struct PlaintextCredentialsWarningTests {
    static let marker = "without TLS, readable by anyone on the network path"

    @Test func warnedOnceForANonLoopbackNameNeverForLoopback() async throws {
        let m = try LoadTests.Migration(rows: 60, segments: 1)
        let port = MilvusTestEnv.endpoint.split(separator: ":").last.map(String.init) ?? "19530"
        #expect(try await m.cli("dump").0 == 0)

        try TLSServerTests.rewriteTarget(m, endpoint: "127.0.0.1:\(port)", tls: [:])
        let local = try await m.cli("load")
        #expect(local.0 == 0, "\(local.2)")
        #expect(!local.2.contains(Self.marker), "\(local.2)")

        // start connects twice (load, then verify): one warning.
        try TLSServerTests.rewriteTarget(m, endpoint: "0.0.0.0:\(port)", tls: [:])
        let remote = try await run(cliPath, ["start", "-c", m.scenario.configPath, "--quiet"])
        #expect(remote.0 == 0, "\(remote.2)")
        #expect(remote.2.components(separatedBy: Self.marker).count - 1 == 1, "\(remote.2)")
        #expect(remote.2.contains("warning") && remote.2.contains("user '\(MilvusTestEnv.user ?? "")'") && remote.2.contains("0.0.0.0:\(port)"))
        try await m.dropAll()
    }
}

// MARK: - Against Milvus serving TLS (tlsMode 1 / 2) and MariaDB with TLS (phases of scripts/test.sh)

let milvusTLSMode = ProcessInfo.processInfo.environment["MILVUS_TLS_MODE"] ?? "0"
let tlsDir = ProcessInfo.processInfo.environment["MILVUS_TLS_DIR"] ?? ProcessInfo.processInfo.environment["MARIADB_TLS_DIR"] ?? ""

@Suite(.serialized, .enabled(if: milvusUp && milvusTLSMode != "0", "needs Milvus with TLS, started by scripts/test.sh (MILVUS_TLS_MODE=1 or 2)"))
struct TLSServerTests {
    static func file(_ name: String) -> String { "\(tlsDir)/\(name)" }
    static var port: String { MilvusTestEnv.endpoint.split(separator: ":").last.map(String.init) ?? "19530" }
    static var mutual: Bool { milvusTLSMode == "2" }
    /// The client certificate when the server requires one.
    static var clientKeys: [String: String] { mutual ? ["certFile": file("client.pem"), "keyFile": file("client.key")] : [:] }

    /// Replaces the milvus2x block of the migration's config.
    static func rewriteTarget(_ m: LoadTests.Migration, endpoint: String, tls: [String: String]) throws {
        var text = try String(contentsOfFile: m.scenario.configPath, encoding: .utf8)
        if let range = text.range(of: "  milvus2x:") { text = String(text[..<range.lowerBound]) }
        if !text.hasSuffix("\n") { text += "\n" }
        text += """
          milvus2x:
            endpoint: "\(endpoint)"
            username: \(MilvusTestEnv.user ?? "")
            password: \(MilvusTestEnv.password ?? "")

        """
        if !tls.isEmpty {
            text += "    tls:\n"
            for (k, v) in tls.sorted(by: { $0.key < $1.key }) { text += "      \(k): \(v)\n" }
        }
        text += "    collections:\n"
        for (from, to) in m.names.sorted(by: { $0.key < $1.key }) { text += "      \(from): \(to)\n" }
        try text.write(toFile: m.scenario.configPath, atomically: true, encoding: .utf8)
    }

    static func options(endpoint: String = "https://127.0.0.1:\(port)") throws -> MilvusClient.Options {
        var o = try MilvusTestEnv.options()
        o.endpoint = try MilvusEndpoint(parsing: endpoint)
        o.caFile = file("ca.pem")
        o.certFile = clientKeys["certFile"]
        o.keyFile = clientKeys["keyFile"]
        return o
    }

    static func dropAll(_ m: LoadTests.Migration) async throws {
        let names = Array(m.names.values)
        try await MilvusClient.with(try options()) { (client: MilvusClient) async throws -> Void in
            for name in names where try await client.hasCollection(name) { try await client.dropCollection(name) }
        }
    }

    /// load and verify --full over TLS: by IP (the certificate's IP address), by name (localhost),
    /// and with tls.serverName naming the certificate's other DNS name.
    @Test func loadAndVerifyEveryRowOverTLS() async throws {
        let m = try LoadTests.Migration(rows: 200, segments: 2)
        #expect(try await m.cli("dump").0 == 0)
        try Self.rewriteTarget(m, endpoint: "127.0.0.1:\(Self.port)", tls: ["caFile": Self.file("ca.pem")].merging(Self.clientKeys) { a, _ in a })
        let load = try await m.cli("load")
        #expect(load.0 == 0, "\(load.2)")
        #expect(load.1.contains("Row counts match the source."))
        #expect(!load.2.contains(PlaintextCredentialsWarningTests.marker))

        for (endpoint, extra) in [("https://localhost:\(Self.port)", [:]), ("127.0.0.1:\(Self.port)", ["serverName": "milvus.test"])] {
            try Self.rewriteTarget(m, endpoint: endpoint, tls: ["caFile": Self.file("ca.pem")].merging(Self.clientKeys) { a, _ in a }.merging(extra) { a, _ in a })
            let verify = try await m.cli("verify", ["--full", "--load"])
            #expect(verify.0 == 0, "\(endpoint): \(verify.1)\(verify.2)")
            #expect(verify.1.contains("Milvus matches the source."), "\(endpoint)")
        }
        try await Self.dropAll(m)
    }

    /// The managed-Milvus setup (Zilliz Cloud): an https endpoint, a token and insert mode, then
    /// verify --full, all over TLS.
    @Test func insertModeWithATokenOverTLS() async throws {
        let token = MilvusTestEnv.user.map { ["token": "\($0):\(MilvusTestEnv.password ?? "")"] } ?? [:]
        let m = try InsertMigration(server: .milvus, rows: 400, credentials: token)
        var tls = "    tls:\n      caFile: \(Self.file("ca.pem"))\n"
        for (k, v) in Self.clientKeys.sorted(by: { $0.key < $1.key }) { tls += "      \(k): \(v)\n" }
        let text = try String(contentsOfFile: m.configPath, encoding: .utf8)
        let plain = "    endpoint: \(MilvusTestEnv.endpoint)\n"
        try #require(text.contains(plain))
        try text.replacingOccurrences(of: plain, with: "    endpoint: https://127.0.0.1:\(Self.port)\n" + tls)
            .write(toFile: m.configPath, atomically: true, encoding: .utf8)
        let start = try await m.cli("start", ["--col", "vecs"])
        #expect(start.0 == 0, "\(start.2)")
        #expect(start.1.contains("Row counts match the source.") && start.1.contains("inserted now"), "\(start.1)")
        // Insert mode leaves the collection unloaded (loadCollection is off): verify loads it.
        let verify = try await m.cli("verify", ["--full", "--load", "--col", "vecs"])
        #expect(verify.0 == 0 && verify.1.contains("Milvus matches the source."), "\(verify.1)\(verify.2)")
        try await MilvusClient.with(try Self.options()) { (client: MilvusClient) async throws -> Void in
            for name in m.names.values where try await client.hasCollection(name) { try await client.dropCollection(name) }
        }
    }

    /// One failed verify against the TLS server: exit 1 and the message.
    func failure(tls: [String: String], endpoint: String = "127.0.0.1:\(TLSServerTests.port)") async throws -> String {
        let m = try LoadTests.Migration(rows: 10, segments: 1)
        try Self.rewriteTarget(m, endpoint: endpoint, tls: tls)
        let started = Date()
        let (status, out, err) = try await m.cli("verify")
        #expect(status == 1, "\(out)\(err)")
        // A TLS failure is not retried as if the server were down.
        #expect(Date().timeIntervalSince(started) < 2, "\(err)")
        return err
    }

    @Test func wrongCAIsNamed() async throws {
        let err = try await failure(tls: ["caFile": Self.file("other-ca.pem")].merging(Self.clientKeys) { a, _ in a })
        #expect(err.contains("Milvus at https://127.0.0.1:\(Self.port)") && err.contains("certificate") && err.contains("target.milvus2x.tls.caFile"), "\(err)")
    }

    /// serverName alone turns TLS on (defect 11): without a CA the system roots do not know the test CA.
    @Test func serverNameAloneMeansTLSAndTheCAIsNamed() async throws {
        let err = try await failure(tls: ["serverName": "milvus.test"].merging(Self.clientKeys) { a, _ in a })
        #expect(err.contains("Milvus at https://127.0.0.1:\(Self.port)") && err.contains("target.milvus2x.tls.caFile"), "\(err)")
    }

    /// The certificate names localhost, milvus.test and 127.0.0.1, not ::1: over ::1 the name is
    /// what is checked. (By IPv4 the transport also accepts the certificate's IP address SAN
    /// matching the connected address, whatever tls.serverName says.)
    @Test func wrongServerNameIsNamed() async throws {
        let keys = ["caFile": Self.file("ca.pem")].merging(Self.clientKeys) { a, _ in a }
        let err = try await failure(tls: keys.merging(["serverName": "wrong.test"]) { a, _ in a }, endpoint: "[::1]:\(Self.port)")
        #expect(err.contains("Milvus at https://[::1]:\(Self.port)") && err.contains("'wrong.test'") && err.contains("target.milvus2x.tls.serverName"), "\(err)")
        // The same over ::1 with the right name passes the handshake.
        let m = try LoadTests.Migration(rows: 10, segments: 1)
        try Self.rewriteTarget(m, endpoint: "[::1]:\(Self.port)", tls: keys.merging(["serverName": "milvus.test"]) { a, _ in a })
        let ok = try await m.cli("verify")
        #expect(ok.2.contains("connected to Milvus") && !ok.2.contains("TLS handshake failed"), "\(ok.2)")
    }

    @Test func plaintextClientAgainstTLSServerIsNamed() async throws {
        let err = try await failure(tls: [:])
        #expect(err.contains("Milvus at 127.0.0.1:\(Self.port)") && err.contains("TLS") && err.contains("target.milvus2x.tls.caFile"), "\(err)")
    }

    @Test(.enabled(if: milvusTLSMode == "2")) func missingClientCertificateIsNamed() async throws {
        let err = try await failure(tls: ["caFile": Self.file("ca.pem")])
        #expect(err.contains("Milvus at https://127.0.0.1:\(Self.port)") && err.contains("client certificate") && err.contains("target.milvus2x.tls.certFile"), "\(err)")
    }

    @Test(.enabled(if: milvusTLSMode == "2")) func clientCertificateOfAnotherCAIsRefused() async throws {
        let dir = TempDir("tls-other")
        // A client certificate signed by the other CA: the server must refuse it.
        let made = try await run("/usr/bin/env", ["bash", "-c", """
            set -e; cd '\(dir.path)'
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=intruder -keyout c.key -out c.csr 2>/dev/null
            printf 'extendedKeyUsage=clientAuth\\n' > ext
            openssl x509 -req -in c.csr -CA '\(Self.file("other-ca.pem"))' -CAkey '\(Self.file("other-ca.key"))' -CAcreateserial -days 1 -extfile ext -out c.pem 2>/dev/null
            """])
        #expect(made.0 == 0, "\(made.2)")
        let err = try await failure(tls: ["caFile": Self.file("ca.pem"), "certFile": dir.sub("c.pem"), "keyFile": dir.sub("c.key")])
        #expect(err.contains("Milvus at https://127.0.0.1:\(Self.port)") && err.contains("client certificate") && err.contains("target.milvus2x.tls.certFile"), "\(err)")
    }
}

// MARK: - export -m over TLS to MariaDB

@Suite(.serialized, .enabled(if: MariaDBTestServer.enabled && ProcessInfo.processInfo.environment["MARIADB_TLS_DIR"] != nil,
                             "needs MariaDB with TLS, started by scripts/test.sh (MARIADB_TLS_DIR)"))
struct MySQLTLSTests {
    static var dir: String { ProcessInfo.processInfo.environment["MARIADB_TLS_DIR"] ?? "" }

    /// A 1.x meta database and a reader account that may log in only over TLS (REQUIRE SSL): a
    /// connection that silently fell back to plaintext would be refused.
    struct Fixture {
        let tmp = TempDir("mysql-tls")
        let scratch: ScratchDatabase
        let user = "tls_\(UUID().uuidString.prefix(8).lowercased())"
        let password = "tls-Pw-\(UUID().uuidString.prefix(6))"

        init() throws {
            let db = try makeMySQLScenario(at: tmp.sub("db"))
            scratch = try ScratchDatabase(milvusMetaFrom: db.metaPath)
            try scratch.makeReader(user: user, password: password)
            try scratch.execute("ALTER USER '\(user)'@'%' REQUIRE SSL")
        }

        func export(_ params: String) async throws -> (Int32, String, String) {
            let dsn = try MariaDBTestServer.goDSN(scratch.name, user: user, password: password, params: params)
            return try await run(cliPath, ["export", "-m", dsn, "-o", tmp.sub("out-\(UUID().uuidString.prefix(6))")])
        }
    }

    @Test func exportOverVerifiedTLS() async throws {
        let f = try Fixture()
        for params in ["tls=true&tlsCA=\(Self.dir)/ca.pem", "tlsCA=\(Self.dir)/ca.pem", "tls=skip-verify", "tls=preferred"] {
            let (status, out, err) = try await f.export(params)
            #expect(status == 0, "\(params): \(err)")
            #expect(out.contains("Exported 3 collection(s), 2 partition(s), 7 segment(s)"), "\(params): \(out)")
            #expect(!err.contains(f.password) && !out.contains(f.password))
        }
        // The account really needs TLS: plaintext is refused.
        let plain = try await f.export("tls=false")
        #expect(plain.0 != 0 && plain.2.contains("1045"), "\(plain.2)")
    }

    /// tls=true verifies: a certificate of another CA, or no CA at all (the system roots do not
    /// know the test CA), fails with a message naming tlsCA.
    @Test func verificationReallyHappens() async throws {
        let f = try Fixture()
        for params in ["tls=true&tlsCA=\(Self.dir)/other-ca.pem", "tls=true"] {
            let (status, _, err) = try await f.export(params)
            #expect(status != 0, "\(params)")
            #expect(err.contains("TLS") && err.contains("tlsCA") && err.contains("mysql://\(f.user)@127.0.0.1"), "\(params): \(err)")
            #expect(!err.contains(f.password))
        }
    }
}
