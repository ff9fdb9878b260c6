/// The one bounded-concurrency helper: runs `work` over `items` with at most `width` in flight (a
/// sliding window: a slot is refilled as soon as it frees up). With `stopAtFirstFailure` (the
/// jobs) no new item starts after a failure and the ones in flight finish; without it (the
/// planner, which collects every problem) every item runs. When the task is cancelled (Ctrl-C)
/// no new item starts either, and `run` throws `interrupted` once the ones in flight are done.
/// `onResult` runs serially, in completion order. Returns the failures.
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
}
