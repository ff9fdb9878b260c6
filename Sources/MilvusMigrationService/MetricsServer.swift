import CoreMetrics
import Foundation
import Hummingbird
import Logging
import MilvusMigration
import NIOCore
import Prometheus
import ServiceLifecycle

/// The Prometheus side of the library's metrics (`MigrationMetrics`): one registry for the
/// process, bootstrapped into swift-metrics on first use, exported as `GET /metrics` in the
/// Prometheus text format. `serving(at:_:)` runs a small Hummingbird server beside a command;
/// `addRoutes(to:)` mounts the same route on any other Hummingbird router (server mode).
public enum MetricsServer {
    /// How long a command that ended waits for scrapes in progress before it stops the server.
    static let shutdownGrace = Duration.seconds(5)

    /// The exposition format's content type (text format 0.0.4).
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The registry every metric of the process lands in. The first use bootstraps
    /// swift-metrics with it (swift-metrics allows one bootstrap per process).
    public static var registry: PrometheusCollectorRegistry { bootstrapped }

    private static let bootstrapped: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Import tasks take seconds to hours, not the default milliseconds to 10 s.
        factory.durationHistogramBuckets[MigrationMetrics.Name.importDuration] =
            [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200].map { Duration.seconds($0) }
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// What `GET /metrics` answers: every metric of the registry in the text format.
    public static func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }

    /// Adds `GET /<path>` (default `/metrics`) to `router`, answering with `exposition()`.
    public static func addRoutes<Context: RequestContext>(to router: Router<Context>, path: RouterPath = "metrics") {
        _ = registry
        router.get(path) { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: contentType],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: exposition())))
        }
    }

    /// Serves `/metrics` on `address` while `body` runs, and stops when it ends (returns or
    /// throws). The server listens before `body` starts, so an address that cannot be used (the
    /// port is taken, the host is not local) fails at once, before any work; `body` receives the
    /// address actually bound (`host:port`, the port chosen by the system for port 0).
    public static func serving<T>(at address: MetricsAddress, _ body: (_ bound: String) async throws -> T) async throws -> T {
        let router = Router(context: BasicRequestContext.self)
        addRoutes(to: router)
        var logger = Logger(label: "milvus-migration.metrics")
        // Hummingbird's own lines (started, shutting down) are not news for a CLI user.
        logger.logLevel = .warning
        let (bound, listening) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let app = Application(router: router,
                               configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port)),
                               onServerRunning: { channel in
                                   listening.yield(channel.localAddress.map(MetricsAddress.describe) ?? address.description)
                                   listening.finish()
                               },
                               logger: logger)
        // Stopped by a graceful shutdown (open scrapes finish), not by cancellation, which the
        // server would log as an error.
        let service = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { listening.finish() }
                try await service.run()
            }
            var iterator = bound.makeAsyncIterator()
            guard let actual = await iterator.next() else {
                // The server ended before it listened: its error says why.
                var reason = "the server stopped before it listened"
                do { try await group.next() } catch { reason = MetricsAddress.describe(error) }
                throw MigrationError.io(path: address.description, operation: "serve metrics (--metrics-address) on", reason: reason)
            }
            Logger(label: "milvus-migration.metrics").notice("serving Prometheus metrics at http://\(actual)/metrics")
            let result: Result<T, any Error>
            do {
                result = .success(try await body(actual))
            } catch {
                result = .failure(error)
            }
            // Leaving the group by throwing would cancel the server, which logs errors: it stops
            // gracefully first (open scrapes finish), but a client stalled mid-request may hold
            // the command for at most `shutdownGrace`, then the server is cancelled.
            await service.triggerGracefulShutdown()
            group.addTask { try? await Task.sleep(for: shutdownGrace) }
            _ = await group.nextResult()
            group.cancelAll()
            return try result.get()
        }
    }
}

/// `host:port` of `--metrics-address` (host optional: `:9100` and `9100` mean 127.0.0.1;
/// IPv6 in brackets, `[::1]:9100`; port 0 lets the system choose a free one).
public struct MetricsAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public static let defaultHost = "127.0.0.1"

    public init(host: String = MetricsAddress.defaultHost, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `text`; a malformed address is a usage error naming `option`.
    public init(parsing text: String, option: String = "--metrics-address") throws {
        func bad(_ why: String) -> MigrationError {
            .usage("\(option) '\(text)': \(why) (expected host:port, e.g. 127.0.0.1:9100)")
        }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var host: Substring
        var portText: Substring
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else { throw bad("the IPv6 host has no closing ']'") }
            host = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.hasPrefix(":") else { throw bad("no port after the host") }
            portText = rest.dropFirst()
        } else if let colon = trimmed.lastIndex(of: ":") {
            host = trimmed[..<colon]
            portText = trimmed[trimmed.index(after: colon)...]
            if host.contains(":") { throw bad("an IPv6 host must be in brackets, e.g. [::1]:9100") }
        } else {
            host = ""
            portText = Substring(trimmed)
        }
        guard !portText.isEmpty else { throw bad("no port") }
        guard portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber), let port = Int(portText), port <= 65535 else {
            throw bad("the port must be a number from 0 to 65535")
        }
        if host.contains(where: { $0.isWhitespace || $0 == "/" }) { throw bad("'\(host)' is not a host name or address") }
        self.init(host: host.isEmpty ? Self.defaultHost : String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    static func describe(_ address: SocketAddress) -> String {
        MetricsAddress(host: address.ipAddress ?? defaultHost, port: address.port ?? 0).description
    }

    /// A bind failure in words (`Address already in use`, not `IOError(...)`).
    static func describe(_ error: any Error) -> String {
        if let io = error as? IOError {
            return String(cString: strerror(io.errnoCode)).lowercased()
        }
        return "\(error)"
    }
}
