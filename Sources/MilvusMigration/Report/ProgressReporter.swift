import Foundation
import Synchronization

/// Progress of a long job. On a terminal it redraws one status line on stderr (segments, rows,
/// MB/s, ETA); otherwise it writes a plain line every `interval` seconds. `quiet` silences it.
public final class ProgressReporter: Sendable {
    struct State {
        var doneUnits = 0
        var bytes: Int64 = 0
        var rows: Int64 = 0
        var lastLine = ""
    }

    public let title: String
    public let totalUnits: Int
    public let totalBytes: Int64
    let unitName: String
    let quiet: Bool
    let isTerminal: Bool
    let interval: Double
    let started = Date()
    private let state = Mutex(State())
    private let ticker = Mutex<Task<Void, Never>?>(nil)

    public init(title: String, totalUnits: Int, totalBytes: Int64, unitName: String = "segments", quiet: Bool,
                isTerminal: Bool = isatty(STDERR_FILENO) == 1, interval: Double? = nil) {
        self.title = title
        self.totalUnits = totalUnits
        self.totalBytes = totalBytes
        self.unitName = unitName
        self.quiet = quiet
        self.isTerminal = isTerminal
        self.interval = interval ?? (isTerminal ? 0.25 : 10)
    }

    public func start() {
        guard !quiet else { return }
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(self?.interval ?? 1))
                guard let self, !Task.isCancelled else { return }
                self.draw(final: false)
            }
        }
        ticker.withLock { $0 = task }
    }

    public func addBytes(_ n: Int64) { state.withLock { $0.bytes += n } }

    public func finishUnit(rows: Int64) {
        state.withLock {
            $0.doneUnits += 1
            $0.rows += rows
        }
    }

    /// A unit that needed no work (already done in an earlier run).
    public func skipUnit(rows: Int64, bytes: Int64) {
        state.withLock {
            $0.doneUnits += 1
            $0.rows += rows
            $0.bytes += bytes
        }
    }

    public func stop() {
        ticker.withLock {
            $0?.cancel()
            $0 = nil
        }
        if !quiet { draw(final: true) }
    }

    public var elapsed: Double { Date().timeIntervalSince(started) }

    func line() -> String {
        let s = state.withLock { $0 }
        let seconds = max(elapsed, 0.001)
        let rate = Double(s.bytes) / seconds
        var text = "\(title): \(s.doneUnits)/\(totalUnits) \(unitName), \(Format.count(s.rows)) rows"
        guard totalBytes > 0 else { return text + String(format: ", %.0f s", seconds) }
        text += ", \(Format.bytes(s.bytes)) of \(Format.bytes(totalBytes)) (\(Int(100 * Double(s.bytes) / Double(totalBytes)))%)"
        text += String(format: ", %.1f MB/s", rate / 1_000_000)
        if rate > 0 && totalBytes > s.bytes && s.doneUnits < totalUnits {
            text += ", ETA \(Int(Double(totalBytes - s.bytes) / rate))s"
        }
        return text
    }

    private func draw(final: Bool) {
        let text = line()
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text + (final ? "\n" : "")).utf8))
        } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }
}
