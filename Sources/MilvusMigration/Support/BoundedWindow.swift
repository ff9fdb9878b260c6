/// The one bounded-concurrency helper: runs `work` over `items` with at most `width` in flight (a
/// sliding window: a slot is refilled as soon as it frees up). With `stopAtFirstFailure` (the
/// jobs) no new item starts after a failure and the ones in flight finish; without it (the
/// planner, which collects every problem) every item runs. When the task is cancelled (Ctrl-C)
/// no new item starts either, and `run` throws `interrupted` once the ones in flight are done.
/// `onResult` runs serially, in completion order. Returns the failures. `ordered` is the variant
/// for work made while streaming, whose results must be taken in order (verify).
///
/// (`AsyncSemaphore` complements it where one work item has sections with their own limits,
/// e.g. `start` staging at most `dumper.worker.limit` and importing `loader.worker.limit`.)
enum BoundedWindow {
    static func run<Item: Sendable, Output: Sendable>(
        _ items: [Item], width: Int, stopAtFirstFailure: Bool = true,
        work: @escaping @Sendable (Item) async throws -> Output,
        onResult: (Item, Result<Output, MigrationError>) async throws -> Void
    ) async throws -> [(Item, MigrationError)] {
        var failures: [(Item, MigrationError)] = []
        try await withThrowingTaskGroup(of: (Item, Result<Output, MigrationError>).self) { group in
            var next = 0
            var stopped = false
            func launch() {
                guard !stopped, next < items.count else { return }
                let item = items[next]
                next += 1
                group.addTask {
                    do {
                        return (item, .success(try await work(item)))
                    } catch let error as MigrationError {
                        return (item, .failure(error))
                    } catch is CancellationError {
                        return (item, .failure(.interrupted))
                    } catch {
                        return (item, .failure(.unexpected(context: "\(item)", message: "\(error)")))
                    }
                }
            }
            for _ in 0..<max(1, width) { launch() }
            while let (item, outcome) = try await group.next() {
                if case .failure(let error) = outcome {
                    failures.append((item, error))
                    if stopAtFirstFailure || error == .interrupted { stopped = true }
                }
                try await onResult(item, outcome)
                if Task.isCancelled { stopped = true }
                launch()
            }
        }
        // Stopped by a signal: never a success, even if every item launched had finished.
        if Task.isCancelled || failures.contains(where: { $0.1 == .interrupted }) { throw MigrationError.interrupted }
        return failures
    }

    /// The ordered, streaming variant: `produce` submits work as it makes it (e.g. one batch per
    /// chunk of a file being read) and `deliver` receives the outputs serially, in submission
    /// order, whatever order they finish in. At most `width` submitted items are not yet
    /// delivered: `submit` waits (taking finished outputs) while that many are open. So at most
    /// `width` run at once, and the outputs held back for ordering (behind a slow early item) are
    /// bounded too, by the same window: counting only the items in flight would let them pile up
    /// when an early item is slow, each holding a whole batch (the Verifier's rows).
    ///
    /// The first error (of `work`, `produce` or `deliver`) is thrown as it is and the items still
    /// in flight are cancelled and awaited; outputs after a failed item are not delivered. When
    /// the task is cancelled, `submit` throws `CancellationError`.
    static func ordered<Output: Sendable>(
        width: Int,
        produce: (_ submit: (_ work: @escaping @Sendable () async throws -> Output) async throws -> Void) async throws -> Void,
        // Escaping only for the compiler (`submit`, which calls it, is handed to `produce`): it
        // is never kept beyond the call.
        deliver: @escaping (Output) async throws -> Void
    ) async throws {
        let width = max(1, width)
        try await withThrowingTaskGroup(of: (Int, Output).self) { group in
            var submitted = 0
            var delivered = 0
            var finished: [Int: Output] = [:]
            // Waits for one item to finish, then delivers every output that is next in order.
            func takeOne() async throws {
                guard let (index, output) = try await group.next() else { return }
                finished[index] = output
                while let next = finished.removeValue(forKey: delivered) {
                    try await deliver(next)
                    delivered += 1
                }
            }
            func submit(_ work: @escaping @Sendable () async throws -> Output) async throws {
                try Task.checkCancellation()
                // Counted from the oldest output not delivered yet, not from the items running.
                while submitted - delivered >= width { try await takeOne() }
                let index = submitted
                group.addTask { (index, try await work()) }
                submitted += 1
            }
            try await produce(submit)
            while delivered < submitted { try await takeOne() }
        }
    }
}
