import ArgumentParser
import Foundation
import Logging
import MilvusMigration
import MilvusMigrationService

struct Server: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the HTTP job API (the reference tool's /api/v1 endpoints, plus cancel) and a live status page.",
        discussion: """
        Jobs run in this process, one at a time per staging area; their state is kept in --state-dir, \
        so a restarted server still answers for them and resumes the unfinished ones from the journal. \
        With --token (or MILVUS_MIGRATION_SERVER_TOKEN) every endpoint but /api/v1/healthy and the page \
        needs 'Authorization: Bearer <token>'. The status page is at http://HOST:PORT/.
        """)

    @Option(name: [.customShort("p"), .long], help: "Port to listen on (0: any free port, printed at start).")
    var port = 8080

    @Option(name: .long, help: "Address to listen on (default: loopback only).")
    var host = "127.0.0.1"

    @Option(name: [.customShort("c"), .long], help: "The migration.yaml of requests that name none (default: ./migration.yaml, then ./configs/migration.yaml).")
    var config: String?

    @Option(name: .long, help: "Folder of the jobs' records (created if missing).")
    var stateDir = ".milvus-migration-server"

    @Option(name: .long, help: "Bearer token required on the API (default: $MILVUS_MIGRATION_SERVER_TOKEN; none when both are empty).")
    var token: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port): not a port (0–65535)") }
        guard !host.isEmpty else { throw ValidationError("--host: empty") }
    }

    func run() async throws {
        try await runCommand(logLevel: logLevel) {
            var options = JobServer.Options()
            options.host = host
            options.port = port
            options.config = config
            options.stateDir = stateDir
            options.token = token ?? ProcessInfo.processInfo.environment["MILVUS_MIGRATION_SERVER_TOKEN"]
            let server = try JobServer(options: options)
            let host = self.host
            do {
                try await Interrupts.cancellingOnSignal {
                    try await server.run(onListening: { port in
                        Terminal.print("milvus-migration server listening on http://\(host.contains(":") ? "[\(host)]" : host):\(port)/")
                    })
                }
            } catch MigrationError.interrupted {
                // SIGTERM or Ctrl-C is how a server is stopped: not a failure.
                Terminal.print("milvus-migration server stopped; unfinished jobs resume at its next start")
            }
        }
    }
}
