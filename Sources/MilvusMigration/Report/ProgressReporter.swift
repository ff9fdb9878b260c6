import Foundation
import Synchronization

/// Progress of a long job. On a terminal it redraws one status line on stderr (segments, rows,
/// MB/s, ETA); otherwise it writes a plain line every `interval` seconds. `quiet` silences it.
/// Jobs measure bytes (staged or sent); `verify` measures rows compared (`totalRows`).
public final class ProgressReporter: Sendable {
    struct State {
        var doneUnits = 0
        var bytes: Int64 = 0
        var rows: Int64 = 0
        /// Payload bytes of the units finished (imported, for `start`).
        var finishedBytes: Int64 = 0
        var lastLine = ""
    }

    public let title: String
    public let totalUnits: Int
    public let totalBytes: Int64
    /// Rows to compare (`verify`); 0 for jobs measured in bytes.
    public let totalRows: Int64
    /// `start`: the ETA is the later of staging's and the finished units' (imports lag staging,
    /// so an ETA from the bytes staged alone is far too early).
    let etaFromFinished: Bool
    let unitName: String
    let quiet: Bool
    let isTerminal: Bool
    let interval: Double
    let started = Date()
    /// Hears the bytes and phases too (the job server's status).
    let observer: (any MigrationObserver)?
    private let state = Mutex(State())
    private let ticker = Mutex<Task<Void, Never>?>(nil)

    public init(title: String, totalUnits: Int, totalBytes: Int64, totalRows: Int64 = 0, unitName: String = "segments",
                etaFromFinished: Bool = false, quiet: Bool, isTerminal: Bool = isatty(STDERR_FILENO) == 1, interval: Double? = nil,
                observer: (any MigrationObserver)? = nil) {
        self.observer = observer
        self.title = title
        self.totalUnits = totalUnits
        self.totalBytes = totalBytes
        self.totalRows = totalRows
        self.etaFromFinished = etaFromFinished
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

    public func addBytes(_ n: Int64) {
        state.withLock { $0.bytes += n }
        observer?.moved(bytes: n)
    }

    /// Rows compared (`verify`).
    public func addRows(_ n: Int64) { state.withLock { $0.rows += n } }

    /// A unit done; `bytes` is its payload (counted for `etaFromFinished`).
    public func finishUnit(rows: Int64, bytes: Int64 = 0) {
        state.withLock {
            $0.doneUnits += 1
            $0.rows += rows
            $0.finishedBytes += bytes
        }
    }

    /// A unit that needed no work (already done in an earlier run).
    public func skipUnit(rows: Int64, bytes: Int64) {
        state.withLock {
            $0.doneUnits += 1
            $0.rows += rows
            $0.bytes += bytes
            $0.finishedBytes += bytes
        }
    }

    /// A step with no row or byte progress of its own (an index build, a collection load): one
    /// line at once, so a long wait is never silent.
    public func phase(_ text: String) {
        observer?.phase(text)
        guard !quiet else { return }
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[K" : "") + "\(title): \(text)\n").utf8))
    }

    public func stop() {
        ticker.withLock {
            $0?.cancel()
            $0 = nil
        }
        if !quiet { draw(final: true) }
    }

    public var elapsed: Double { Date().timeIntervalSince(started) }

    func line(elapsed: Double? = nil) -> String {
        let s = state.withLock { $0 }
        let seconds = max(elapsed ?? self.elapsed, 0.001)
        if totalRows > 0 {
            let rate = Double(s.rows) / seconds
            var text = "\(title): \(Format.count(s.rows)) of \(Format.count(totalRows)) rows compared (\(Int(100 * Double(s.rows) / Double(totalRows)))%)"
            text += String(format: ", %.0f rows/s", rate)
            if rate > 0 && totalRows > s.rows { text += ", ETA \(Format.duration(Double(totalRows - s.rows) / rate))" }
            return text
        }
        let rate = Double(s.bytes) / seconds
        var text = "\(title): \(s.doneUnits)/\(totalUnits) \(unitName), \(Format.count(s.rows)) rows"
        guard totalBytes > 0 else { return text + String(format: ", %.0f s", seconds) }
        text += ", \(Format.bytes(s.bytes)) of \(Format.bytes(totalBytes)) (\(Int(100 * Double(s.bytes) / Double(totalBytes)))%)"
        text += String(format: ", %.1f MB/s", rate / 1_000_000)
        guard s.doneUnits < totalUnits else { return text }
        var eta: Double? = rate > 0 && totalBytes > s.bytes ? Double(totalBytes - s.bytes) / rate : nil
        if etaFromFinished {
            // Until a unit has finished nothing says how fast units finish: no ETA yet.
            let finishRate = Double(s.finishedBytes) / seconds
            eta = finishRate > 0 ? max(eta ?? 0, Double(max(0, totalBytes - s.finishedBytes)) / finishRate) : nil
        }
        if let eta { text += ", ETA \(Format.duration(eta))" }
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
