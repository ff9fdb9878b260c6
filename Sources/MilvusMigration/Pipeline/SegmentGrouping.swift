/// Coalescing (`dumper.worker.groupMB`): consecutive small segments of one partition become one
/// work unit, staged as one NumPy pair and imported by one task, so a 1.x database of many small
/// segments does not mean as many import jobs (Milvus 2.4+ holds at most 1024 pending).
///
/// Units the journal already holds keep their shape whatever the limit says now: a segment
/// staged or imported alone (or in a group) is never regrouped, since a different grouping of rows
/// that may be in Milvus could only import them twice. Only segments the journal does not know
/// are grouped afresh.
enum SegmentGrouping {
    struct Member: Equatable {
        var id: String
        /// Payload bytes (the meta's `file_size`: ids and vectors of every row).
        var bytes: Int64
    }

    /// Segment ids in numeric order (1.x ids are decimal numbers; shorter sorts first).
    static func ordered(_ ids: [String]) -> [String] {
        ids.sorted { ($0.count, $0) < ($1.count, $1) }
    }

    /// Splits `members` (one partition, in `ordered` order) into runs of consecutive members.
    /// `journaled` maps the first segment id of every unit the journal holds to its last one
    /// (the same id for a single segment). A member of at least `limit` bytes stays alone; smaller
    /// ones are gathered while their sum stays within `limit`. `limit` 0 groups nothing new.
    static func runs(_ members: [Member], limit: Int64, journaled: [String: String]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var open: (start: Int, end: Int, bytes: Int64)?
        func close() {
            if let o = open { runs.append(o.start..<o.end) }
            open = nil
        }
        var i = 0
        while i < members.count {
            let member = members[i]
            if let last = journaled[member.id], let end = members[i...].firstIndex(where: { $0.id == last }) {
                close()
                runs.append(i..<(end + 1))
                i = end + 1
                continue
            }
            if limit > 0 && member.bytes < limit {
                if let o = open, o.bytes + member.bytes <= limit {
                    open = (o.start, i + 1, o.bytes + member.bytes)
                } else {
                    close()
                    open = (i, i + 1, member.bytes)
                }
            } else {
                close()
                runs.append(i..<(i + 1))
            }
            i += 1
        }
        close()
        return runs
    }

    /// The unit part of a journal key: the segment id, or `<first>..<last>` for a group.
    static func unitName(first: String, last: String) -> String {
        first == last ? first : "\(first)..\(last)"
    }

    /// The journaled units of one partition (`<collection>/<partition>/`): first id → last id.
    static func journaled(keys: [String], collection: String, partition: String) -> [String: String] {
        let prefix = "\(collection)/\(partition)/"
        var out: [String: String] = [:]
        for key in keys where key.hasPrefix(prefix) {
            let name = key.dropFirst(prefix.count)
            guard !name.contains("/") else { continue }
            if let range = name.range(of: "..") {
                out[String(name[..<range.lowerBound])] = String(name[range.upperBound...])
            } else {
                out[String(name)] = String(name)
            }
        }
        return out
    }
}
