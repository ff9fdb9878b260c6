import Foundation

/// `meta.json`: the file `export` writes and `dump`/`load` read.
///
/// It is a superset of the reference tool's format (zilliztech/milvus-migration): every field that
/// tool writes is there, in the same order, so scripts written for it keep working. After them come
/// what that format lacks: the partitions (tag, 2.x name, segments), the vector kind, metric and
/// engine names, index params and deleted-row counts. Reading accepts both formats.
public enum MetaJSON {
    /// Marks files written by this tool.
    public static let formatTag = "milvus-migration/1"

    // MARK: Writing

    public static func encode(_ meta: SourceMeta, pretty: Bool = false) -> String {
        let collections = meta.collections.map(encodeCollection)
        return JSONValue.object([
            ("collections", .array(collections)),
            ("rows", .integer(meta.totalRows)),
            ("format", .string(formatTag)),
        ]).serialized(pretty: pretty)
    }

    private static func encodeCollection(_ c: SourceCollection) -> JSONValue {
        let deleted = c.partitions.reduce(Int64(0)) { $0 + deletedRows($1, c) }
        var segments: [JSONValue] = []
        var partitions: [JSONValue] = []
        for p in c.partitions {
            segments += p.segments.map { encodeSegment($0, partition: p, c) }
            let ids: [JSONValue] = p.segments.map { .string($0.id) }
            partitions.append(.object([
                ("tableId", .string(p.tableId)),
                ("tag", .optional(p.tag)),
                ("name", .string(p.name)),
                ("rows", .integer(p.rows)),
                ("deletedRows", .integer(deletedRows(p, c))),
                ("segments", .array(ids)),
            ]))
        }
        let members: [(String, JSONValue)] = [
            ("collection", .string(c.name)),
            ("metric", .integer(c.metricType)),
            ("rows", .integer(c.rows)),
            ("dim", .integer(c.dimension)),
            ("segments", .array(segments)),
            ("vectorKind", .string(c.vectorKind.rawValue)),
            ("metricName", .optional(c.metric?.name)),
            ("engineType", .integer(c.engineType)),
            ("engineName", .optional(c.engine?.name)),
            ("indexParams", .string(c.indexParams)),
            ("indexFileSize", .integer(c.indexFileSize)),
            ("flag", .integer(c.flag)),
            ("createdOn", .integer(c.createdOn)),
            ("version", .string(c.version)),
            ("deletedRows", .integer(deleted)),
            ("partitions", .array(partitions)),
        ]
        return .object(members)
    }

    private static func encodeSegment(_ s: SourceSegment, partition: SourcePartition, _ c: SourceCollection) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("collection", .string(s.tableId)),
            ("segment", .string(s.id)),
            ("dim", .integer(c.dimension)),
            ("rows", .integer(s.rowCount)),
            ("fileSize", .integer(s.fileSize)),
            ("partition", .string(partition.name)),
        ]
        if let type = s.fileType { members.append(("fileType", .integer(type.rawValue))) }
        if let total = s.totalRows(bytesPerRow: c.bytesPerRow) {
            members.append(("totalRows", .integer(total)))
            members.append(("deletedRows", .integer(max(0, total - s.rowCount))))
        }
        members.append(("createdOn", .integer(s.createdOn)))
        return .object(members)
    }

    /// Deleted rows according to the meta: rows in the files (from `file_size`) minus live rows.
    static func deletedRows(_ p: SourcePartition, _ c: SourceCollection) -> Int64 {
        p.segments.reduce(0) { sum, s in sum + max(0, (s.totalRows(bytesPerRow: c.bytesPerRow) ?? s.rowCount) - s.rowCount) }
    }

    // MARK: Reading

    private struct File: Decodable {
        var collections: [Collection]?
        @OptionalWhole var rows: Int64?
        var format: String?
    }

    private struct Collection: Decodable {
        var collection: String
        @Whole var metric: Int64
        @OptionalWhole var rows: Int64?
        @Whole var dim: Int64
        var segments: [Segment]?
        @OptionalWhole var engineType: Int64?
        var indexParams: String?
        @OptionalWhole var indexFileSize: Int64?
        @OptionalWhole var flag: Int64?
        @OptionalWhole var createdOn: Int64?
        var version: String?
        var partitions: [Partition]?
    }

    private struct Segment: Decodable {
        var collection: String?
        var segment: String
        @OptionalWhole var dim: Int64?
        @Whole var rows: Int64
        @OptionalWhole var fileSize: Int64?
        @OptionalWhole var fileType: Int64?
        @OptionalWhole var createdOn: Int64?
    }

    private struct Partition: Decodable {
        var tableId: String
        var tag: String?
        var name: String
    }

    /// The largest meta.json read (one of a million segments is about 250 MB).
    public static let maxFileBytes = 1 << 30

    public static func read(path: String) throws -> SourceMeta {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw MigrationError.meta(source: path, message: "cannot read: \(errnoText())")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw MigrationError.meta(source: path, message: "cannot read: \((info.st_mode & S_IFMT) == S_IFDIR ? "a folder" : "not a regular file"), expected the meta.json file")
        }
        guard info.st_size <= maxFileBytes else {
            throw MigrationError.meta(source: path, message: "the file is \(info.st_size) bytes; a meta.json is at most \(maxFileBytes >> 20) MiB")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw MigrationError.meta(source: path, message: "cannot read: \((error as NSError).localizedDescription)")
        }
        return try decode(data, origin: path)
    }

    public static func decode(_ data: Data, origin: String) throws -> SourceMeta {
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw MigrationError.meta(source: origin, message: "not a meta.json: missing field '\(path(context.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            if context.codingPath.isEmpty {
                throw MigrationError.meta(source: origin, message: "not a meta.json: the top level is not a JSON object with a 'collections' array")
            }
            throw MigrationError.meta(source: origin, message: "not a meta.json: field '\(path(context.codingPath))' has the wrong type")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw MigrationError.meta(source: origin, message: "not a meta.json: field '\(path(context.codingPath))' \(context.debugDescription)")
        } catch {
            throw MigrationError.meta(source: origin, message: "not valid JSON (\(error.localizedDescription))")
        }
        guard let entries = file.collections else {
            throw MigrationError.meta(source: origin, message: "not a meta.json: no 'collections' array")
        }
        var diagnostics: [Diagnostic] = []
        var collections: [SourceCollection] = []
        var seen = Set<String>()
        for entry in entries {
            let subject = "collection '\(entry.collection)'"
            guard seen.insert(entry.collection).inserted else {
                diagnostics.append(.error(subject, "listed twice in \(origin)"))
                continue
            }
            var ok = true
            if !NameRules.isValidCollectionName(entry.collection) {
                let hint = NameRules.isNumericId(entry.collection)
                    ? "; it looks like a 1.x partition exported by the reference tool, which loses partition information: export the meta again with this tool"
                    : ""
                diagnostics.append(.error(subject, "not a valid 2.x collection name ([A-Za-z_][A-Za-z0-9_]*)\(hint)"))
                ok = false
            }
            let metric = Metric(rawValue: entry.metric)
            if metric == nil {
                diagnostics.append(.error(subject, "unknown metric \(entry.metric) (expected 1…7)"))
                ok = false
            }
            if let problem = MetaAssembler.dimensionProblem(entry.dim, kind: metric?.vectorKind ?? .float) {
                diagnostics.append(.error(subject, problem))
                ok = false
            }
            guard ok else { continue }

            // Partitions: ours lists them; the reference format has only the collection's own table.
            let declared = entry.partitions ?? []
            var partitions = [SourcePartition(tableId: entry.collection, tag: nil, name: "_default", segments: [])]
            for p in declared where p.tableId != entry.collection {
                guard NameRules.isNumericId(p.tableId), NameRules.isValidCollectionName(p.name) else {
                    diagnostics.append(.error("\(subject) partition '\(p.tag ?? p.name)'", "invalid table id '\(p.tableId)' or 2.x name '\(p.name)'"))
                    continue
                }
                if partitions.contains(where: { $0.name == p.name }) {
                    diagnostics.append(.error("\(subject) partition '\(p.tag ?? p.name)'", "2.x partition name '\(p.name)' is used twice"))
                    continue
                }
                partitions.append(SourcePartition(tableId: p.tableId, tag: p.tag ?? p.name, name: p.name, segments: []))
            }
            for s in entry.segments ?? [] {
                let tableId = s.collection ?? entry.collection
                let segSubject = "\(subject) segment '\(s.segment)'"
                guard NameRules.isNumericId(s.segment) else {
                    diagnostics.append(.error(segSubject, "segment id is not a plain numeric id; refusing to use it as a folder name"))
                    continue
                }
                guard let index = partitions.firstIndex(where: { $0.tableId == tableId }) else {
                    diagnostics.append(.error(segSubject, "belongs to table '\(tableId)', which is neither the collection nor one of its partitions"))
                    continue
                }
                if let dim = s.dim, dim != entry.dim {
                    diagnostics.append(.error(segSubject, "dim \(dim) differs from the collection's \(entry.dim)"))
                    continue
                }
                if let problem = MetaAssembler.segmentSizeProblem(rowCount: s.rows, fileSize: s.fileSize ?? 0,
                                                                   bytesPerRow: (metric?.vectorKind ?? .float).bytesPerRow(dimension: Int(entry.dim))) {
                    diagnostics.append(.error(segSubject, problem.replacingOccurrences(of: "row_count", with: "rows").replacingOccurrences(of: "file_size", with: "fileSize")))
                    continue
                }
                if partitions[index].segments.contains(where: { $0.id == s.segment }) {
                    diagnostics.append(.error(segSubject, "listed twice"))
                    continue
                }
                partitions[index].segments.append(SourceSegment(
                    tableId: tableId, id: s.segment, fileType: s.fileType.flatMap(FileType.init(rawValue:)),
                    rowCount: s.rows, fileSize: s.fileSize ?? 0, createdOn: s.createdOn ?? 0))
            }
            for i in partitions.indices {
                partitions[i].segments.sort { MetaAssembler.segmentOrder($0.id, $1.id) }
            }
            let kind = metric?.vectorKind ?? .float
            collections.append(SourceCollection(
                name: entry.collection, dimension: Int(entry.dim), metricType: entry.metric,
                engineType: entry.engineType ?? (kind == .binary ? EngineType.binFlat.rawValue : EngineType.flat.rawValue),
                indexParams: entry.indexParams ?? "{}", flag: entry.flag ?? 0,
                indexFileSize: entry.indexFileSize ?? 1_073_741_824, createdOn: entry.createdOn ?? 0,
                version: entry.version ?? "", partitions: partitions))
        }
        collections.sort { $0.name < $1.name }
        MetaAssembler.limitTotals(&collections, &diagnostics)
        return SourceMeta(collections: collections, origin: origin, diagnostics: diagnostics)
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
}

/// A JSON number that must be a whole number in 64 bits. Foundation's decoder on Linux reports
/// a number that does not fit without its field; this one names the field.
@propertyWrapper
struct Whole: Decodable, Sendable {
    var wrappedValue: Int64

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int64.self) {
            wrappedValue = value
        } else if let real = try? container.decode(Double.self) {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: real.isFinite && real.rounded() == real ? "does not fit a 64-bit integer" : "is not a whole number")
        } else {
            wrappedValue = try container.decode(Int64.self)
        }
    }
}

/// `Whole`, or nil when the field is absent or null.
@propertyWrapper
struct OptionalWhole: Decodable, Sendable {
    var wrappedValue: Int64?

    init(wrappedValue: Int64?) { self.wrappedValue = wrappedValue }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try Whole(from: decoder).wrappedValue
    }
}

extension KeyedDecodingContainer {
    func decode(_ type: OptionalWhole.Type, forKey key: Key) throws -> OptionalWhole {
        try decodeIfPresent(type, forKey: key) ?? OptionalWhole(wrappedValue: nil)
    }
}
