import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import Logging
import MilvusMigration
import NIOCore
import ServiceLifecycle

/// `milvus-migration server`: the job API (`JobAPI`) and the status page over HTTP (Hummingbird),
/// and the jobs it accepts, run as child tasks of one task group. Stopping the server (its task
/// cancelled, e.g. by SIGTERM) stops the jobs; they stay resumable and the next start runs them again.
public struct JobServer: Sendable {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        /// Bearer token for every endpoint but `/api/v1/healthy` and the page; nil: none.
        public var token: String?
        /// The migration.yaml of requests that name none.
        public var config: String?
        /// Where the jobs' records live (`jobs/<id>.json`).
        public var stateDir = ".milvus-migration-server"

        public init() {}
    }

    static let paths = ["/", "/index.html", "/api/v1/healthy", "/api/v1/dump", "/api/v1/load", "/api/v1/start",
                        "/api/v1/get_job", "/api/v1/jobs", "/api/v1/cancel", "/metrics"]

    public let options: Options
    public let registry: JobRegistry
    let logger = Logger(label: "milvus-migration.server")

    public init(options: Options) throws {
        self.options = options
        registry = try JobRegistry(stateDir: options.stateDir, defaultConfig: options.config)
    }

    /// Serves until cancelled; `onListening` gets the bound port (useful with port 0).
    public func run(extraRoutes: @Sendable (Router<BasicRequestContext>) -> Void = { _ in },
                    onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        // Metrics go to the Prometheus registry from the start (a metric made before the
        // bootstrap would stay a no-op).
        _ = MetricsServer.registry
        let api = JobAPI(registry: registry, token: options.token)
        let router = Router()
        for path in Self.paths {
            for method in [HTTPRequest.Method.get, .post, .put, .delete] {
                router.on(RouterPath(path), method: method) { request, _ in try await Self.respond(api, request) }
            }
        }
        extraRoutes(router)
        let app = Application(router: router,
                              configuration: .init(address: .hostname(options.host, port: options.port), serverName: "milvus-migration"),
                              onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) })
        await registry.resumeUnfinished()
        let registry = self.registry
        try await withThrowingDiscardingTaskGroup { group in
            let (host, port) = (options.host, options.port)
            group.addTask {
                do {
                    // Stopped by a graceful shutdown when this task is cancelled (open requests
                    // finish); cancelling the server itself would make it log errors.
                    let service = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: logger))
                    let serving = Task { try await service.run() }
                    try await withTaskCancellationHandler {
                        try await serving.value
                    } onCancel: {
                        Task { await service.triggerGracefulShutdown() }
                    }
                } catch let error as IOError where error.errnoCode == EADDRINUSE {
                    throw MigrationError.usage("cannot listen on \(host):\(port): the address is in use by another program (choose another --port)")
                } catch let error as IOError {
                    throw MigrationError.usage("cannot listen on \(host):\(port): \(error.description)")
                }
                await registry.close()
            }
            group.addTask {
                // Ends the job queue when the server is cancelled, so the loop below ends.
                try? await Task.sleep(for: .seconds(Double(Int32.max)))
                await registry.close()
            }
            for await id in registry.runs {
                group.addTask { await registry.run(id) }
            }
            group.cancelAll()
        }
    }

    static func respond(_ api: JobAPI, _ request: Request) async throws -> Response {
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
        var body: [UInt8] = []
        if request.method == .post || request.method == .put {
            var buffer = try await request.body.collect(upTo: JobAPI.maxBodyBytes + 1)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        }
        let reply = await api.handle(JobAPI.Request(method: request.method.rawValue, path: request.uri.path, query: query,
                                                    headers: headers, body: body))
        return Response(status: .init(code: reply.status), headers: [.contentType: reply.contentType, .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }
}
