/// How the pipeline runs: every knob of `dump`, `load` and `start` in one place. The CLI gets it
/// from migration.yaml through the config mapping; tests set the fields they need.
public struct PipelineOptions: Sendable {
    /// Segments staged at once (`dumper.worker.limit`).
    public var stageParallelism = 2
    /// Imports in flight at once (`loader.worker.limit`).
    public var importParallelism = 2
    /// Consecutive segments of a partition smaller than this are staged and imported together, up
    /// to this many bytes a group (`dumper.worker.groupMB`; 0: every segment on its own).
    public var groupBytes: Int64 = 0
    /// Read buffer of the conversion (`dumper.worker.reader.bufferSize`).
    public var bufferBytes = 1 << 20
    public var fields = FieldNames()
    /// How long one import task (and index build, collection load) may take (`loader.worker.importTimeout`).
    public var importTimeout: Double = 3600
    /// What to do with a 2.x collection that exists and is not this job's (`target.milvus2x.onExisting`).
    public var onExisting: OnExisting = .fail
    /// `target.milvus2x.shardsNum` (0: the server's default).
    public var shards = 0
    public var createIndex = false
    public var loadCollection = false
    /// Whether Milvus reads the staged files from a local disk (for the "file not found" hint).
    public var stagedLocally = true
    /// An import task left by an earlier run that shows no progress for this long (nor does any
    /// other such task) is taken as stalled (e.g. by a server restart) and decided from the row counts.
    public var stallTimeout: Double = 120
    /// How rows go in: staged files and `Import`, or `Insert` requests (`loader.mode`).
    public var loadMode: LoadMode = .import
    /// Insert mode: the largest batch of rows in one `Insert` (`loader.insert.batchMB`).
    public var insertBatchBytes = 16 << 20
    /// Remove a segment's staged files once its import completed and the row counts were
    /// checked (`target.cleanup`).
    public var cleanup = false
    /// No progress output.
    public var quiet = false
    /// Receives the job's progress as it happens (the HTTP job server's status); nil: none.
    public var observer: (any MigrationObserver)?
    /// This process's part of a sharded job (`--shard i/N`); nil: every segment.
    public var shard: ShardSelection?
    /// Sharded runs: how long shards 1…N-1 wait for shard 0 to prepare a collection.
    public var shardWaitTimeout: Double = 600

    public init() {}
}

/// How `load` and `start` put rows into the target (`loader.mode`).
public enum LoadMode: String, Sendable, CaseIterable {
    /// Staged NumPy files bulk-inserted with `Import` (the target reads the staging area).
    case `import`
    /// Live rows streamed from the source in `Insert` requests: no staging, no shared storage.
    case insert
}
