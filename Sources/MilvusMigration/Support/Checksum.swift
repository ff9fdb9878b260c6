/// A fast 64-bit content checksum for staged files (not cryptographic): detects truncation,
/// torn writes and bit rot when a rerun decides whether a staged file can be kept.
/// Processes 8-byte words (multiply-xorshift), the tail byte by byte, and mixes in the length.
public struct Checksum64: Sendable, Equatable {
    public private(set) var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    public private(set) var length: Int64 = 0
    private var pending: [UInt8] = []

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        var start = 0
        if !pending.isEmpty {
            while pending.count < 8 && start < bytes.count {
                pending.append(bytes[start])
                start += 1
            }
            if pending.count == 8 {
                let word = pending.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                mix(word)
                pending.removeAll(keepingCapacity: true)
            }
        }
        let words = (bytes.count - start) / 8
        var h = state
        let base = bytes.baseAddress! + start
        for i in 0..<words {
            let w = base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
            h = (h ^ w) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 29
        }
        state = h
        for i in (start + words * 8)..<bytes.count { pending.append(bytes[i]) }
        length += Int64(bytes.count)
    }

    private mutating func mix(_ w: UInt64) {
        state = (state ^ w) &* 0xFF51_AFD7_ED55_8CCD
        state ^= state >> 29
    }

    /// The checksum as 16 hex digits.
    public var hex: String {
        var h = state
        for byte in pending { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
        h ^= UInt64(bitPattern: length) &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        let text = String(h, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}
