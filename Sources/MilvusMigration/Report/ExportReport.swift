import Foundation

/// What `export` wrote: the counts of the exported meta and where `meta.json` went.
public struct ExportReport: Sendable {
    public var collections: Int
    /// Partitions besides each collection's default one.
    public var partitions: Int
    public var segments: Int
    public var rows: Int64
    /// The `meta.json` written.
    public var path: String

    public init(collections: Int, partitions: Int, segments: Int, rows: Int64, path: String) {
        self.collections = collections
        self.partitions = partitions
        self.segments = segments
        self.rows = rows
        self.path = path
    }

    public var summary: String {
        "Exported \(collections) collection(s), \(partitions) partition(s), \(segments) segment(s), \(Format.count(rows)) rows to \(path)"
    }
}
