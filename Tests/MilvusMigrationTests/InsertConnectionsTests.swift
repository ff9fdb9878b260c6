import Foundation
import GRPCNIOTransportHTTP2
import Testing
@testable import MilvusMigration

/// Insert traffic is spread over connections replaced after `recycleBytes`, so no connection
/// carries a stream long enough for the server's flow-control frames to hit swift-nio-http2's
/// limit. No server is needed: a connection is created lazily and only dialled by a request.
@Suite struct InsertConnectionsTests {
    @Test func aConnectionIsReplacedAfterItsShareOfBytes() async throws {
        let made = Counter()
        let connections = InsertConnections(makeTransport: {
            made.increment()
            return try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: 1), transportSecurity: .plaintext)
        }, recycleBytes: 100)
        _ = try await connections.service(sending: 60)
        _ = try await connections.service(sending: 40)
        #expect(made.value == 1, "100 bytes fit in one connection")
        _ = try await connections.service(sending: 1)
        #expect(made.value == 2, "the 101st byte goes over a fresh connection")
        _ = try await connections.service(sending: 500)
        #expect(made.value == 3, "a request larger than the share gets a connection of its own")
        _ = try await connections.service(sending: 1)
        #expect(made.value == 4)
        // The replaced connections close (they carry nothing) and are let go; only the current one
        // stays. Alone this takes milliseconds; a loaded test run's cooperative pool can delay it.
        let deadline = Date().addingTimeInterval(120)
        while await connections.open > 1 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await connections.open == 1, "closed connections are released")
        await connections.shutdown()
        #expect(await connections.open == 0)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
