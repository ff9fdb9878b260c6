import Foundation

/// Receives a running job's progress as it happens: the units it will work on, every change of a
/// unit's journal record, the bytes moved and the phase lines. The terminal progress line
/// (`ProgressReporter`) is drawn from the same calls; the HTTP job server's status is another
/// consumer. Calls come from many tasks at once: implementations must be thread-safe and cheap
/// (no I/O), and they never change what the job does.
public protocol MigrationObserver: Sendable {
    /// The job's units, before any of them runs, each with its journal record as the job found
    /// it (work an earlier run did shows up at once).
    func planned(job: String, units: [PlannedUnit])
    /// A unit's record after a journaled change (staged, importing, imported, failed, …).
    func changed(_ record: SegmentRecord)
    /// Payload bytes staged, or sent in `Insert` requests.
    func moved(bytes: Int64)
    /// A step without progress of its own (an index build, a collection load).
    func phase(_ text: String)
}

/// One unit of a job as an observer sees it.
public struct PlannedUnit: Sendable, Codable, Equatable {
    /// The journal key, `<collection>/<partition>/<segment or first..last>`.
    public var key: String
    public var collection: String
    /// The 2.x collection it goes into.
    public var target: String
    public var partition: String
    public var segments: Int
    /// Live rows of the source (0 when unknown: `load` of a staged dump reads no source).
    public var rows: Int64
    /// Payload bytes (8 per id + the vector bytes of every row staged), 0 when unknown (`load`
    /// of a staged dump counts the staged files instead).
    public var bytes: Int64
    /// The journal's record when the job started, nil when it had none.
    public var record: SegmentRecord?

    public init(key: String, collection: String, target: String, partition: String, segments: Int, rows: Int64, bytes: Int64, record: SegmentRecord?) {
        self.key = key
        self.collection = collection
        self.target = target
        self.partition = partition
        self.segments = segments
        self.rows = rows
        self.bytes = bytes
        self.record = record
    }
}
