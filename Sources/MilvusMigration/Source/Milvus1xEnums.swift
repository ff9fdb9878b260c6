/// Enumerations of the Milvus 1.x meta, identical from 0.9 to 1.1 (docs/FORMAT.md §4.4).

/// `TableFiles.file_type`.
public enum FileType: Int64, Sendable, CaseIterable {
    case new = 0, raw = 1, toIndex = 2, index = 3, toDelete = 4, newMerge = 5, newIndex = 6, backup = 7

    /// The rows that carry a live segment's raw `.rv`/`.uid` files: exactly one per live segment.
    public static let rawDataCarriers: Set<FileType> = [.raw, .toIndex, .backup]
    /// The rows 1.x search and count use; cross-checked against the carriers.
    public static let searchable: Set<FileType> = [.raw, .toIndex, .index]

    public var name: String {
        switch self {
        case .new: "NEW"
        case .raw: "RAW"
        case .toIndex: "TO_INDEX"
        case .index: "INDEX"
        case .toDelete: "TO_DELETE"
        case .newMerge: "NEW_MERGE"
        case .newIndex: "NEW_INDEX"
        case .backup: "BACKUP"
        }
    }
}

/// `Tables.metric_type`.
public enum Metric: Int64, Sendable, CaseIterable {
    case l2 = 1, ip = 2, hamming = 3, jaccard = 4, tanimoto = 5, substructure = 6, superstructure = 7

    /// Metrics 3–7 mean a binary collection whose dimension is in bits.
    public var vectorKind: VectorKind { rawValue >= 3 ? .binary : .float }

    public var name: String {
        switch self {
        case .l2: "L2"
        case .ip: "IP"
        case .hamming: "HAMMING"
        case .jaccard: "JACCARD"
        case .tanimoto: "TANIMOTO"
        case .substructure: "SUBSTRUCTURE"
        case .superstructure: "SUPERSTRUCTURE"
        }
    }
}

/// `engine_type`: the 1.x index type (same numbers as pymilvus 1.x `IndexType`).
public enum EngineType: Int64, Sendable, CaseIterable {
    case invalid = 0, flat = 1, ivfFlat = 2, ivfSQ8 = 3, rnsg = 4, ivfSQ8H = 5, ivfPQ = 6
    case sptagKDT = 7, sptagBKT = 8, binFlat = 9, binIVFFlat = 10, hnsw = 11, annoy = 12

    public var name: String {
        switch self {
        case .invalid: "INVALID"
        case .flat: "FLAT"
        case .ivfFlat: "IVF_FLAT"
        case .ivfSQ8: "IVF_SQ8"
        case .rnsg: "RNSG"
        case .ivfSQ8H: "IVF_SQ8H"
        case .ivfPQ: "IVF_PQ"
        case .sptagKDT: "SPTAG_KDT"
        case .sptagBKT: "SPTAG_BKT"
        case .binFlat: "BIN_FLAT"
        case .binIVFFlat: "BIN_IVF_FLAT"
        case .hnsw: "HNSW"
        case .annoy: "ANNOY"
        }
    }
}

/// Float collections store `dim` float32 per row; binary ones `dim/8` bytes (dim in bits).
public enum VectorKind: String, Sendable, Codable {
    case float
    case binary

    /// Bytes one row occupies in `.rv` for a collection of this kind and dimension; 0 when the
    /// dimension gives no valid row size (not positive, or so large that the size overflows), so
    /// a dimension from the meta can never trap here.
    public func bytesPerRow(dimension: Int) -> Int {
        guard dimension > 0 else { return 0 }
        switch self {
        case .float:
            let (bytes, overflow) = dimension.multipliedReportingOverflow(by: 4)
            return overflow ? 0 : bytes
        case .binary:
            return dimension / 8
        }
    }
}
