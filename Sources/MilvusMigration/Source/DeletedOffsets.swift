/// The rows a `deleted_docs` file removes from its segment: a bitmap of the segment's rows.
///
/// 1.x appends each delete batch (≤ 1.1.0), so offsets are neither sorted nor unique; a reader
/// must assume neither (docs/FORMAT.md §6). The offsets are streamed into one bit per row
/// (`add(_:)`), so memory is `rows / 8` bytes at most (it grows only up to the highest deleted
/// offset), whatever the size of the file: a 100 MB `deleted_docs` is never held in memory.
public struct DeletedOffsets: Sendable {
    /// Rows of the segment (`.rv`/`.uid` rows, deleted ones included).
    public let rows: Int64
    /// One bit per row, bit `r % 64` of word `r / 64`; words past the highest deleted offset are
    /// not allocated.
    private var words: [UInt64] = []
    /// Deleted rows before each block of `blockWords` words (built by `finish()`), for
    /// `physicalRow(live:)`.
    private var blockRanks: [Int64] = []
    static let blockWords = 64

    /// Unique offsets in `0..<rows`.
    public private(set) var count = 0
    /// Offsets in the file, duplicates and out-of-range ones included.
    public private(set) var rawCount = 0
    /// Valid offsets that repeat an earlier one.
    public private(set) var duplicates = 0
    /// Offsets `< 0` or `>= rows`: reported and ignored.
    public private(set) var outOfRangeCount = 0
    /// The first few out-of-range offsets (at most `outOfRangeSampleLimit`), for messages.
    public private(set) var outOfRangeSample: [Int32] = []
    static let outOfRangeSampleLimit = 8

    /// An empty set for a segment of `rows` rows; feed it with `add(_:)`, then call `finish()`.
    public init(rows: Int64) {
        self.rows = max(0, rows)
    }

    /// All offsets at once (tests, small inputs).
    public init(raw: [Int32], rows: Int64) {
        self.init(rows: rows)
        for offset in raw { add(offset) }
        finish()
    }

    public static let none = DeletedOffsets(raw: [], rows: 0)

    public var isEmpty: Bool { count == 0 }

    /// Adds one offset from the file.
    public mutating func add(_ offset: Int32) {
        rawCount += 1
        guard offset >= 0, Int64(offset) < rows else {
            outOfRangeCount += 1
            if outOfRangeSample.count < DeletedOffsets.outOfRangeSampleLimit { outOfRangeSample.append(offset) }
            return
        }
        let word = Int(offset) >> 6
        let bit = UInt64(1) << UInt64(offset & 63)
        if word >= words.count {
            // Grow geometrically, never past the segment's last word.
            let limit = Int((rows + 63) / 64)
            let wanted = min(limit, max(word + 1, words.count * 2))
            words.append(contentsOf: repeatElement(0, count: wanted - words.count))
        }
        if words[word] & bit != 0 {
            duplicates += 1
        } else {
            words[word] |= bit
            count += 1
        }
    }

    /// Adds the little-endian int32 offsets of a `deleted_docs` payload chunk (a multiple of 4 bytes).
    public mutating func add(littleEndian bytes: UnsafeRawBufferPointer) {
        var i = 0
        while i + 4 <= bytes.count {
            add(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: Int32.self)))
            i += 4
        }
    }

    /// Builds the rank index; call once after the last `add`.
    public mutating func finish() {
        var ranks: [Int64] = []
        ranks.reserveCapacity(words.count / DeletedOffsets.blockWords + 1)
        var total: Int64 = 0
        var w = 0
        while w < words.count {
            ranks.append(total)
            let end = min(words.count, w + DeletedOffsets.blockWords)
            for i in w..<end { total += Int64(words[i].nonzeroBitCount) }
            w = end
        }
        blockRanks = ranks
    }

    /// Whether physical row `row` is deleted.
    public func contains(_ row: Int64) -> Bool {
        guard row >= 0, row < rows else { return false }
        let word = Int(row >> 6)
        return word < words.count && words[word] & (UInt64(1) << UInt64(row & 63)) != 0
    }

    /// The first deleted row in `from..<end`, or nil.
    public func nextDeleted(from: Int64, before end: Int64) -> Int64? {
        var row = max(0, from)
        let stop = min(end, rows)
        while row < stop {
            let word = Int(row >> 6)
            guard word < words.count else { return nil }
            let masked = words[word] & (~UInt64(0) << UInt64(row & 63))
            if masked != 0 {
                let found = Int64(word) << 6 + Int64(masked.trailingZeroBitCount)
                return found < stop ? found : nil
            }
            row = Int64(word + 1) << 6
        }
        return nil
    }

    /// The deleted offsets in ascending order (materializes them: tests and small sets only).
    public func sortedOffsets() -> [Int32] {
        var out: [Int32] = []
        var row: Int64 = 0
        while let next = nextDeleted(from: row, before: rows) {
            out.append(Int32(next))
            row = next + 1
        }
        return out
    }

    /// The physical row of the k-th live row (0-based), skipping deleted rows. Needs `finish()`.
    public func physicalRow(live k: Int64) -> Int64 {
        guard count > 0, !words.isEmpty else { return k }
        let bitsPerBlock = Int64(DeletedOffsets.blockWords * 64)
        // The last block whose start has at most k live rows before it.
        var low = 0, high = blockRanks.count
        while low < high {
            let mid = (low + high) / 2
            if Int64(mid) * bitsPerBlock - blockRanks[mid] <= k { low = mid + 1 } else { high = mid }
        }
        let block = max(0, low - 1)
        var live = Int64(block) * bitsPerBlock - blockRanks[block]
        var word = block * DeletedOffsets.blockWords
        while word < words.count {
            let liveInWord = Int64(64 - words[word].nonzeroBitCount)
            if live + liveInWord > k {
                // Select the (k - live)-th zero bit of this word.
                var zeros = ~words[word]
                var skip = k - live
                while skip > 0 {
                    zeros &= zeros - 1
                    skip -= 1
                }
                return Int64(word) << 6 + Int64(zeros.trailingZeroBitCount)
            }
            live += liveInWord
            word += 1
        }
        // Past the bitmap every row is live.
        return Int64(words.count) << 6 + (k - live)
    }
}

extension DeletedOffsets: Equatable {
    public static func == (a: DeletedOffsets, b: DeletedOffsets) -> Bool {
        guard a.rows == b.rows, a.count == b.count, a.rawCount == b.rawCount, a.duplicates == b.duplicates,
              a.outOfRangeCount == b.outOfRangeCount, a.outOfRangeSample == b.outOfRangeSample else { return false }
        let n = max(a.words.count, b.words.count)
        for i in 0..<n where (i < a.words.count ? a.words[i] : 0) != (i < b.words.count ? b.words[i] : 0) { return false }
        return true
    }
}
