/// The rows a `deleted_docs` file removes from its segment: the set of valid row offsets.
///
/// 1.x appends each delete batch (≤ 1.1.0), so offsets are neither sorted nor unique; a reader
/// must assume neither (milvus1x-format.md §2.3). Stored sorted and unique so the dump can walk
/// rows and deletions in one pass.
public struct DeletedOffsets: Sendable, Equatable {
    /// Sorted, unique offsets in `0..<rows`.
    public private(set) var offsets: [Int32]
    /// Offsets in the file, duplicates and out-of-range ones included.
    public private(set) var rawCount: Int
    /// Offsets that repeat an earlier one.
    public private(set) var duplicates: Int
    /// Offsets `< 0` or `>= rows`: reported and ignored.
    public private(set) var outOfRange: [Int32]

    public init(raw: [Int32], rows: Int64) {
        rawCount = raw.count
        var valid: [Int32] = []
        valid.reserveCapacity(raw.count)
        var bad: [Int32] = []
        for offset in raw {
            if offset < 0 || Int64(offset) >= rows { bad.append(offset) } else { valid.append(offset) }
        }
        valid.sort()
        var unique: [Int32] = []
        unique.reserveCapacity(valid.count)
        for offset in valid where unique.last != offset { unique.append(offset) }
        offsets = unique
        duplicates = valid.count - unique.count
        outOfRange = bad
    }

    public static let none = DeletedOffsets(raw: [], rows: 0)

    public var count: Int { offsets.count }
    public var isEmpty: Bool { offsets.isEmpty }

    public func contains(_ row: Int64) -> Bool {
        guard row >= 0, row <= Int64(Int32.max) else { return false }
        var low = 0, high = offsets.count
        let target = Int32(row)
        while low < high {
            let mid = (low + high) / 2
            if offsets[mid] < target { low = mid + 1 } else { high = mid }
        }
        return low < offsets.count && offsets[low] == target
    }

    /// Decodes a `deleted_docs` payload (little-endian int32 offsets).
    static func decode(_ bytes: [UInt8]) -> [Int32] {
        var result = [Int32](repeating: 0, count: bytes.count / 4)
        result.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<dst.count])) }
        }
        return result.map { Int32(littleEndian: $0) }
    }
}
