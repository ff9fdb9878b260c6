// The `bloom_filter` file of a Milvus 1.x segment folder, written byte for byte.
//
// Milvus 1.x keeps a *dablooms* scaling counting bloom filter over the ids of every segment
// (docs/FORMAT.md §3.5). A migrator never reads it, but a fixture writer has to produce it so
// that generated segment folders are identical to what 1.x writes. This is a pure-Swift re-implementation
// of the parts of dablooms (Milvus' bundled copy) that determine the file's bytes:
//
// - key of id x: its decimal ASCII text ("10", "-5");
// - MurmurHash3_x64_128 with seed 0x97c29b3a; a = low and b = high 32 bits of the first 64-bit word;
// - bloom k (k = 0, 1, …) with error e_k = 0.01·0.5^(k+1), nf_k = ceil(ln(1/e_k)/ln 2) hash functions and
//   cpf_k = ceil(C·|ln e_k| / (nf_k·(ln 2)²)) counters per function, 4-bit counters, even counter j in the
//   HIGH nibble of byte j/2;
// - counter i of an id: ((u32)(a + i·b) mod cpf) + i·cpf, saturating at 15 (and not going below 0);
// - a new bloom is appended when an id above max_id arrives and the current bloom holds ≥ threshold ids
//   (C−1 in ≤ 1.0, C in ≥ 1.1).
//
// Two file flavours:
// - ≤ 1.0: the file is the bare BITMAP (24-byte scaling header + blooms), C = 500000, third = mem_seqnum;
// - ≥ 1.1: `bloom_0\0` magic, u32 C, f64 0.01, u64 bitmap_bytes, then the BITMAP with third = 0.
//
// All integers are little-endian. The type is a plain value type (no shared state), so it is Sendable.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#else
import Foundation
#endif

/// A dablooms scaling counting bloom filter over Milvus 1.x ids, as written to a segment's `bloom_filter` file.
public struct Milvus1xBloomFilter: Sendable, Equatable {
    /// Which Milvus release wrote the file.
    public enum Flavor: Sendable, Equatable {
        /// Milvus ≤ 1.0.x: the bare bitmap, C = 500000 fixed, third header word = mem_seqnum.
        case v1_0
        /// Milvus ≥ 1.1.0: the 28-byte `bloom_0` header, then the bitmap with third header word = 0.
        case v1_1
    }

    /// MurmurHash3 seed used by Milvus' dablooms (`SALT_CONSTANT`).
    public static let hashSeed: UInt32 = 0x97c2_9b3a
    /// Base error rate Milvus passes to dablooms.
    public static let baseErrorRate: Double = 0.01
    /// The capacity Milvus ≤ 1.0 always uses.
    public static let v1_0Capacity = 500_000
    /// The ≥ 1.1 magic, the bytes `bloom_0\0` read as a little-endian i64.
    public static let magic: UInt64 = 0x0030_5F6D_6F6F_6C62
    /// Size of the scaling header (u64 max_id, u64 mem_seqnum, u64 third).
    public static let scalingHeaderBytes = 24
    /// Size of one counting bloom's header (u64 start_id, u32 count, u32 pad).
    public static let bloomHeaderBytes = 16
    /// Size of the ≥ 1.1 file header (i64 magic, u32 capacity, f64 error rate, u64 bitmap_bytes).
    public static let v1_1HeaderBytes = 28

    /// One counting bloom of the chain.
    public struct Bloom: Sendable, Equatable {
        /// Smallest id (as u64) this bloom is responsible for.
        public internal(set) var startID: UInt64
        /// Ids added minus ids removed (u32, wrapping like the C code).
        public internal(set) var count: UInt32
        /// Number of hash functions, nf.
        public let hashFunctions: Int
        /// Counters per hash function, cpf.
        public let countersPerFunction: Int
        /// The counter area, (nf·cpf + 1)/2 bytes; counter j is the high nibble of byte j/2 when j is even.
        public internal(set) var counters: [UInt8]

        /// The 4-bit value of counter `j`.
        public func counter(_ j: Int) -> UInt8 {
            let byte = counters[j >> 1]
            return (j & 1) == 0 ? byte >> 4 : byte & 0x0F
        }

        /// Bytes this bloom occupies in the bitmap (header + counters).
        public var byteCount: Int { Milvus1xBloomFilter.bloomHeaderBytes + counters.count }
    }

    public let flavor: Flavor
    /// Capacity C of every bloom in the chain (500000 for ≤ 1.0).
    public let capacity: Int
    /// Largest id added so far, compared as u64 (0 for an empty filter).
    public private(set) var maxID: UInt64 = 0
    /// Mutation counter: 1 for a new filter, +1 on every add and remove.
    public private(set) var memSeqnum: UInt64 = 1
    /// The chain of counting blooms, oldest first. Never empty.
    public private(set) var blooms: [Bloom]

    /// Creates an empty filter: one empty bloom with start_id 0, mem_seqnum 1.
    ///
    /// - Parameter capacity: C, the segment's row count at flush (ignored for `.v1_0`, which always uses 500000).
    ///   Must fit the file's u32 field; with C = 0 the filter can be serialized but not added to
    ///   (dablooms would divide by zero).
    public init(flavor: Flavor, capacity: Int) {
        let c = flavor == .v1_0 ? Self.v1_0Capacity : capacity
        precondition(c >= 0 && c <= Int(UInt32.max), "bloom filter capacity \(c) does not fit a u32")
        self.flavor = flavor
        self.capacity = c
        self.blooms = []
        self.blooms.append(Self.makeBloom(capacity: c, index: 0, startID: 0))
    }

    // MARK: - Sizing

    /// nf and cpf of bloom `index` for capacity `capacity`, computed in double exactly like dablooms'
    /// `counting_bloom_init` (error rate 0.01·0.5^(index+1)).
    public static func parameters(capacity: Int, index: Int) -> (hashFunctions: Int, countersPerFunction: Int) {
        let errorRate = baseErrorRate * pow(0.5, Double(index + 1))
        let nf = Int(ceil(log(1 / errorRate) / log(2.0)))
        let cpf = Int(ceil(Double(capacity) * fabs(log(errorRate)) / (Double(nf) * pow(log(2.0), 2))))
        return (nf, cpf)
    }

    static func makeBloom(capacity: Int, index: Int, startID: UInt64) -> Bloom {
        let (nf, cpf) = parameters(capacity: capacity, index: index)
        let size = nf * cpf
        // dablooms holds nf·cpf in an `int` and counter indices in an `unsigned int`.
        precondition(size < Int(Int32.max), "bloom \(index) with capacity \(capacity) is too large for dablooms")
        return Bloom(
            startID: startID, count: 0, hashFunctions: nf, countersPerFunction: cpf,
            counters: [UInt8](repeating: 0, count: (size + 1) / 2))
    }

    /// Ids a bloom takes before the next id above max_id starts a new bloom.
    var scaleThreshold: UInt32 {
        let c = UInt32(capacity)
        // ≤ 1.0 compares with `capacity - 1` in unsigned int arithmetic.
        return flavor == .v1_0 ? c &- 1 : c
    }

    // MARK: - Add / remove

    /// Index of the newest bloom whose start_id ≤ `key` (bloom 0 has start_id 0, so one always exists).
    private func bloomIndex(for key: UInt64) -> Int {
        var k = blooms.count - 1
        while k > 0 && key < blooms[k].startID { k -= 1 }
        return k
    }

    /// Adds `id` (dablooms `scaling_bloom_add`).
    public mutating func add(_ id: Int64) {
        let key = UInt64(bitPattern: id)
        var k = bloomIndex(for: key)
        if key > maxID && blooms[k].count >= scaleThreshold {
            blooms.append(Self.makeBloom(capacity: capacity, index: blooms.count, startID: maxID &+ 1))
            k = blooms.count - 1
        }
        if maxID < key { maxID = key }
        let (a, b) = Self.hashPair(id)
        Self.update(&blooms[k], a: a, b: b, increment: true)
        blooms[k].count &+= 1
        memSeqnum &+= 1
    }

    /// Removes `id` (dablooms `scaling_bloom_remove`): decrements the counters of the newest bloom with
    /// start_id ≤ id. Counters already at 0 stay at 0; count wraps like the C u32 if it was 0.
    public mutating func remove(_ id: Int64) {
        let key = UInt64(bitPattern: id)
        let k = bloomIndex(for: key)
        let (a, b) = Self.hashPair(id)
        Self.update(&blooms[k], a: a, b: b, increment: false)
        blooms[k].count &-= 1
        memSeqnum &+= 1
    }

    /// Adds every id of a sequence, in order.
    public mutating func add<S: Sequence>(contentsOf ids: S) where S.Element == Int64 {
        for id in ids { add(id) }
    }

    /// Whether `id` may have been added (dablooms `scaling_bloom_check`; false positives possible).
    public func mayContain(_ id: Int64) -> Bool {
        let (a, b) = Self.hashPair(id)
        for bloom in blooms.reversed() where bloom.countersPerFunction > 0 {
            let cpf = UInt32(bloom.countersPerFunction)
            var all = true
            for i in 0..<bloom.hashFunctions {
                let h = a &+ UInt32(truncatingIfNeeded: i) &* b
                if bloom.counter(Int(h % cpf) + i * bloom.countersPerFunction) == 0 { all = false; break }
            }
            if all { return true }
        }
        return false
    }

    /// a and b for the key of `id`: low and high 32 bits of MurmurHash3_x64_128's first word.
    static func hashPair(_ id: Int64) -> (UInt32, UInt32) {
        let h = withDecimalKey(id) { murmurHash3_x64_128($0, seed: hashSeed).0 }
        return (UInt32(truncatingIfNeeded: h), UInt32(truncatingIfNeeded: h >> 32))
    }

    private static func update(_ bloom: inout Bloom, a: UInt32, b: UInt32, increment: Bool) {
        let nf = bloom.hashFunctions
        let cpfInt = bloom.countersPerFunction
        precondition(cpfInt > 0, "a bloom filter with capacity 0 cannot hold ids")
        let cpf = UInt32(cpfInt)
        bloom.counters.withUnsafeMutableBufferPointer { buf in
            for i in 0..<nf {
                let h = a &+ UInt32(truncatingIfNeeded: i) &* b  // (u32)(a + i·b)
                let j = Int(h % cpf) + i * cpfInt
                let byteIndex = j >> 1
                let byte = buf[byteIndex]
                if (j & 1) == 0 {  // even counter: high nibble
                    let v = byte >> 4
                    if increment {
                        if v < 15 { buf[byteIndex] = byte &+ 0x10 }
                    } else if v > 0 {
                        buf[byteIndex] = byte &- 0x10
                    }
                } else {  // odd counter: low nibble
                    let v = byte & 0x0F
                    if increment {
                        if v < 15 { buf[byteIndex] = byte &+ 1 }
                    } else if v > 0 {
                        buf[byteIndex] = byte &- 1
                    }
                }
            }
        }
    }

    // MARK: - Serialization

    /// Size of the BITMAP: scaling header plus every bloom.
    public var bitmapByteCount: Int {
        blooms.reduce(Self.scalingHeaderBytes) { $0 + $1.byteCount }
    }

    /// Size of the whole file.
    public var fileByteCount: Int {
        bitmapByteCount + (flavor == .v1_1 ? Self.v1_1HeaderBytes : 0)
    }

    /// The whole `bloom_filter` file.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(fileByteCount)
        let third: UInt64
        switch flavor {
        case .v1_0:
            third = memSeqnum
        case .v1_1:
            third = 0
            Self.append(Self.magic, to: &out)
            Self.append(UInt32(capacity), to: &out)
            Self.append(Self.baseErrorRate.bitPattern, to: &out)
            Self.append(UInt64(bitmapByteCount), to: &out)
        }
        Self.append(maxID, to: &out)
        Self.append(memSeqnum, to: &out)
        Self.append(third, to: &out)
        for bloom in blooms {
            Self.append(bloom.startID, to: &out)
            Self.append(bloom.count, to: &out)
            Self.append(UInt32(0), to: &out)
            out.append(contentsOf: bloom.counters)
        }
        return out
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }
}

// MARK: - Key text

/// Calls `body` with the decimal ASCII text of `id` (what C++ `std::to_string` yields), without allocating.
@inline(__always)
func withDecimalKey<R>(_ id: Int64, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
        // Int64.min is "-9223372036854775808": 20 characters.
        var pos = 20
        var m = id.magnitude
        repeat {
            pos -= 1
            buf[pos] = 0x30 &+ UInt8(truncatingIfNeeded: m % 10)
            m /= 10
        } while m != 0
        if id < 0 {
            pos -= 1
            buf[pos] = 0x2D  // "-"
        }
        return body(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buf[pos..<20])))
    }
}

// MARK: - MurmurHash3_x64_128

@inline(__always)
private func rotl64(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 &- r)) }

@inline(__always)
private func fmix64(_ k0: UInt64) -> UInt64 {
    var k = k0
    k ^= k >> 33
    k = k &* 0xff51_afd7_ed55_8ccd
    k ^= k >> 33
    k = k &* 0xc4ce_b9fe_1a85_ec53
    k ^= k >> 33
    return k
}

/// MurmurHash3_x64_128 (Austin Appleby's reference, little-endian block reads). Returns the two 64-bit
/// output words (h1, h2); as bytes, the digest is h1 then h2, both little-endian.
func murmurHash3_x64_128(_ data: UnsafeRawBufferPointer, seed: UInt32) -> (UInt64, UInt64) {
    let c1: UInt64 = 0x87c3_7b91_1142_53d5
    let c2: UInt64 = 0x4cf5_ad43_2745_937f
    let len = data.count
    let nblocks = len / 16
    var h1 = UInt64(seed)
    var h2 = UInt64(seed)

    for block in 0..<nblocks {
        var k1 = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: block * 16, as: UInt64.self))
        var k2 = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: block * 16 + 8, as: UInt64.self))

        k1 = k1 &* c1; k1 = rotl64(k1, 31); k1 = k1 &* c2; h1 ^= k1
        h1 = rotl64(h1, 27); h1 = h1 &+ h2; h1 = h1 &* 5 &+ 0x52dc_e729

        k2 = k2 &* c2; k2 = rotl64(k2, 33); k2 = k2 &* c1; h2 ^= k2
        h2 = rotl64(h2, 31); h2 = h2 &+ h1; h2 = h2 &* 5 &+ 0x3849_5ab5
    }

    let tail = nblocks * 16
    let rest = len & 15
    var k1: UInt64 = 0
    var k2: UInt64 = 0
    if rest > 8 {
        for i in stride(from: rest - 1, through: 8, by: -1) {
            k2 ^= UInt64(data[tail + i]) << (UInt64(i - 8) * 8)
        }
        k2 = k2 &* c2; k2 = rotl64(k2, 33); k2 = k2 &* c1; h2 ^= k2
    }
    if rest > 0 {
        for i in stride(from: min(rest, 8) - 1, through: 0, by: -1) {
            k1 ^= UInt64(data[tail + i]) << (UInt64(i) * 8)
        }
        k1 = k1 &* c1; k1 = rotl64(k1, 31); k1 = k1 &* c2; h1 ^= k1
    }

    h1 ^= UInt64(len)
    h2 ^= UInt64(len)
    h1 = h1 &+ h2
    h2 = h2 &+ h1
    h1 = fmix64(h1)
    h2 = fmix64(h2)
    h1 = h1 &+ h2
    h2 = h2 &+ h1
    return (h1, h2)
}

/// MurmurHash3_x64_128 of a byte array.
func murmurHash3_x64_128(_ bytes: [UInt8], seed: UInt32) -> (UInt64, UInt64) {
    bytes.withUnsafeBytes { murmurHash3_x64_128($0, seed: seed) }
}

/// MurmurHash3_x64_128 of a string's UTF-8 bytes.
func murmurHash3_x64_128(_ string: String, seed: UInt32) -> (UInt64, UInt64) {
    murmurHash3_x64_128(Array(string.utf8), seed: seed)
}
