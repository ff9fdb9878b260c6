import Foundation
import MilvusMigration
import Synchronization

/// A running job's status, kept up to date by the pipeline's observer calls: every unit's phase
/// and rows, the bytes moved, a throughput sample every few seconds. `snapshot()` is what the job
/// API and the status page show; it is cheap and never touches the job.
public final class JobProgress: MigrationObserver {
    struct UnitState {
        var unit: PlannedUnit
        var phase: SegmentPhase
        var rows: Int64
        var failure: String?
    }

    struct State {
        var job: String?
        var units: [String: UnitState] = [:]
        var movedBytes: Int64 = 0
        var phaseLines: [String] = []
        var samples: [JobSnapshot.Sample] = []
    }

    /// Phases that count a unit as done: staged for `dump`, in the target for the others.
    static func isDone(_ phase: SegmentPhase, job: String?) -> Bool {
        switch phase {
        case .imported: return true
        case .staged: return job == "dump"
        default: return false
        }
    }

    let started: Date
    let sampleInterval: Double
    private let state = Mutex(State())

    public init(started: Date = Date(), sampleInterval: Double = 2) {
        self.started = started
        self.sampleInterval = sampleInterval
    }

    public func planned(job: String, units: [PlannedUnit]) {
        state.withLock { s in
            s.job = job
            for unit in units {
                let record = unit.record
                s.units[unit.key] = UnitState(unit: unit, phase: record?.phase ?? .pending, rows: record?.rows ?? 0, failure: record?.failure)
            }
        }
    }

    public func changed(_ record: SegmentRecord) {
        state.withLock { s in
            guard var unit = s.units[record.key] else { return }   // a unit of another run's shape
            unit.phase = record.phase
            unit.rows = record.rows
            unit.failure = record.failure
            s.units[record.key] = unit
        }
    }

    public func moved(bytes: Int64) {
        state.withLock { $0.movedBytes += bytes }
    }

    public func phase(_ text: String) {
        state.withLock { s in
            s.phaseLines.append(text)
            if s.phaseLines.count > 20 { s.phaseLines.removeFirst(s.phaseLines.count - 20) }
        }
    }

    /// Records a throughput sample when the last one is `sampleInterval` old, or `force`d (the
    /// job server calls it on a timer while the job runs, and once at its end).
    public func sample(now: Date = Date(), force: Bool = false) {
        state.withLock { s in
            let t = now.timeIntervalSince(started)
            if !force, let last = s.samples.last, t - last.seconds < sampleInterval { return }
            let list = Self.collections(s).collections
            let doneBytes = list.reduce(0) { $0 + $1.doneBytes }, doneRows = list.reduce(0) { $0 + $1.doneRows }
            s.samples.append(.init(seconds: t, movedBytes: s.movedBytes, doneBytes: doneBytes, doneRows: doneRows))
            // A long job keeps one sample per interval for the last 720 and thins older ones out.
            if s.samples.count > 1440 { s.samples = stride(from: 0, to: s.samples.count, by: 2).map { s.samples[$0] } }
        }
    }

    /// The one aggregation of units into per-collection figures, shared by samples and snapshots.
    private static func collections(_ s: State) -> (collections: [JobSnapshot.Collection], errors: [JobSnapshot.UnitError]) {
        var collections: [String: JobSnapshot.Collection] = [:]
        var errors: [JobSnapshot.UnitError] = []
        for unit in s.units.values.sorted(by: { $0.unit.key < $1.unit.key }) {
            var c = collections[unit.unit.collection] ?? JobSnapshot.Collection(name: unit.unit.collection, target: unit.unit.target)
            c.units += 1
            c.segments += unit.unit.segments
            c.bytes += unit.unit.bytes
            c.rows += max(unit.unit.rows, unit.rows)
            c.unitsByPhase[unit.phase.rawValue, default: 0] += 1
            c.bytesByPhase[unit.phase.rawValue, default: 0] += unit.unit.bytes
            if isDone(unit.phase, job: s.job) {
                c.doneUnits += 1
                c.doneRows += unit.rows
                c.doneBytes += unit.unit.bytes
            }
            if unit.phase == .failed, let failure = unit.failure {
                errors.append(.init(unit: unit.unit.key, message: failure))
            }
            collections[unit.unit.collection] = c
        }
        return (collections.values.sorted { $0.name < $1.name }, errors)
    }

    public func snapshot(now: Date = Date()) -> JobSnapshot {
        state.withLock { s in
            let (list, errors) = Self.collections(s)
            let totalBytes = list.reduce(0) { $0 + $1.bytes }
            let doneBytes = list.reduce(0) { $0 + $1.doneBytes }
            let elapsed = max(now.timeIntervalSince(started), 0.001)
            // The ETA follows finished units (imports lag staging), from the bytes they carried.
            var eta: Double?
            if doneBytes > 0 && doneBytes < totalBytes {
                eta = Double(totalBytes - doneBytes) / (Double(doneBytes) / elapsed)
            }
            return JobSnapshot(job: s.job, totalUnits: s.units.count, doneUnits: list.reduce(0) { $0 + $1.doneUnits },
                               totalBytes: totalBytes, doneBytes: doneBytes, movedBytes: s.movedBytes,
                               totalRows: list.reduce(0) { $0 + $1.rows }, doneRows: list.reduce(0) { $0 + $1.doneRows },
                               elapsedSeconds: elapsed, etaSeconds: eta, collections: list, samples: s.samples,
                               phaseLines: s.phaseLines, unitErrors: errors)
        }
    }
}

/// What a job has done, as the job API returns it (`detail` of `get_job`) and the page draws it.
public struct JobSnapshot: Codable, Sendable, Equatable {
    public struct Collection: Codable, Sendable, Equatable {
        public var name: String
        public var target: String
        public var units = 0
        public var segments = 0
        public var bytes: Int64 = 0
        /// Live rows (from the plan, or the journal once staged).
        public var rows: Int64 = 0
        public var doneUnits = 0
        public var doneBytes: Int64 = 0
        public var doneRows: Int64 = 0
        /// Units (segments or groups) per journal phase: pending, staged, importing, imported, …
        public var unitsByPhase: [String: Int] = [:]
        public var bytesByPhase: [String: Int64] = [:]

        init(name: String, target: String) {
            self.name = name
            self.target = target
        }
    }

    /// Throughput at one moment since the job started.
    public struct Sample: Codable, Sendable, Equatable {
        public var seconds: Double
        /// Bytes staged or sent so far.
        public var movedBytes: Int64
        /// Bytes and rows of the units done so far.
        public var doneBytes: Int64
        public var doneRows: Int64
    }

    public struct UnitError: Codable, Sendable, Equatable {
        public var unit: String
        public var message: String
    }

    /// dump, load, start or insert; nil before the job has planned its units.
    public var job: String?
    public var totalUnits: Int
    public var doneUnits: Int
    public var totalBytes: Int64
    public var doneBytes: Int64
    public var movedBytes: Int64
    public var totalRows: Int64
    public var doneRows: Int64
    public var elapsedSeconds: Double
    public var etaSeconds: Double?
    public var collections: [Collection]
    public var samples: [Sample]
    public var phaseLines: [String]
    public var unitErrors: [UnitError]
}
