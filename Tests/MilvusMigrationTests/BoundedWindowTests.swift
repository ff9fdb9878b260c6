import Foundation
import Testing
@testable import MilvusMigration

/// `BoundedWindow.ordered`: outputs in submission order, at most `width` items open (running or
/// finished but not delivered), the first error thrown as it is, cancellation honoured.
@Suite struct BoundedWindowTests {
    /// Items running at once and the most seen.
    actor Gauge {
        private(set) var running = 0
        private(set) var most = 0
        private(set) var cancelled = 0
        func enter() { running += 1; most = max(most, running) }
        func leave() { running -= 1 }
        func sawCancellation() { cancelled += 1 }
    }

    struct Failure: Error, Equatable { var item: Int }

    /// Sleeps longer for earlier items, so they finish in reverse order of submission.
    static func slowFirst(_ item: Int, of count: Int) -> Duration { .milliseconds(2 * (count - item)) }

    @Test func outputsArriveInSubmissionOrder() async throws {
        for width in [1, 3, 8] {
            var delivered: [Int] = []
            try await BoundedWindow.ordered(width: width, produce: { submit in
                for item in 0..<20 {
                    try await submit {
                        try await Task.sleep(for: Self.slowFirst(item, of: 20))
                        return item
                    }
                }
            }, deliver: { delivered.append($0) })
            #expect(delivered == Array(0..<20), "width \(width)")
        }
    }

    /// A slow first item: the later ones finish, but at most `width` items are ever open, so
    /// neither the ones running nor the outputs held back for ordering exceed the window.
    @Test func runningAndHeldOutputsStayWithinTheWidth() async throws {
        let gauge = Gauge()
        let width = 3
        var submitted = 0
        var delivered = 0
        var mostOpen = 0
        try await BoundedWindow.ordered(width: width, produce: { submit in
            for item in 0..<12 {
                try await submit {
                    await gauge.enter()
                    try await Task.sleep(for: .milliseconds(item % 4 == 0 ? 40 : 1))
                    await gauge.leave()
                    return item
                }
                submitted += 1
                mostOpen = max(mostOpen, submitted - delivered)
            }
        }, deliver: { item in
            #expect(item == delivered)
            delivered += 1
        })
        #expect(delivered == 12)
        #expect(mostOpen == width, "the window fills up, and no further")
        #expect(await gauge.most <= width)
        #expect(await gauge.running == 0)
    }

    @Test func theFirstErrorIsThrownAsItIsAndLaterOutputsAreNotDelivered() async throws {
        var delivered: [Int] = []
        await #expect(throws: Failure(item: 3)) {
            try await BoundedWindow.ordered(width: 2, produce: { submit in
                for item in 0..<10 {
                    try await submit {
                        if item == 3 { throw Failure(item: 3) }
                        return item
                    }
                }
            }, deliver: { delivered.append($0) })
        }
        #expect(delivered == Array(delivered.indices) && delivered.count <= 3, "\(delivered)")

        // An error of the producer or of `deliver` ends the window the same way.
        await #expect(throws: Failure(item: -1)) {
            try await BoundedWindow.ordered(width: 2, produce: { submit in
                try await submit { 0 }
                throw Failure(item: -1)
            }, deliver: { _ in })
        }
        await #expect(throws: Failure(item: 1)) {
            try await BoundedWindow.ordered(width: 2, produce: { submit in
                for item in 0..<5 { try await submit { item } }
            }, deliver: { item in if item == 1 { throw Failure(item: 1) } })
        }
    }

    /// Cancelling the task stops the window: the items in flight are cancelled, no new one is
    /// submitted, and `ordered` throws `CancellationError` without waiting for the work (the
    /// items' 30 s sleeps end by cancellation; a wall-clock bound is not asserted, the test
    /// machine may be busy).
    @Test func cancellationStopsTheWindow() async throws {
        let gauge = Gauge()
        let task = Task {
            try await BoundedWindow.ordered(width: 2, produce: { submit in
                for item in 0..<100 {
                    try await submit {
                        do {
                            try await Task.sleep(for: .seconds(30))
                        } catch {
                            await gauge.sawCancellation()
                            throw error
                        }
                        return item
                    }
                }
            }, deliver: { _ in })
        }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(await gauge.cancelled == 2, "the two items in flight saw the cancellation")
    }
}
