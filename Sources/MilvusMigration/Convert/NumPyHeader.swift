/// The `.npy` (format version 1.0) header for the arrays a migration writes: little-endian int64
/// ids `(N,)`, float32 vectors `(N, dim)` and uint8 binary vectors `(N, dim/8)`, always C order
/// (Milvus silently scrambles Fortran-order vectors). The header is padded with spaces and a final
/// newline so the data starts on a 64-byte boundary, as `numpy.save` does.
public struct NumPyHeader: Sendable, Equatable {
    public enum DType: String, Sendable {
        case int64 = "<i8"
        case float32 = "<f4"
        case uint8 = "|u1"

        public var itemSize: Int {
            switch self {
            case .int64: 8
            case .float32: 4
            case .uint8: 1
            }
        }
    }

    public var dtype: DType
    /// `[rows]` or `[rows, columns]`.
    public var shape: [Int64]

    public init(dtype: DType, shape: [Int64]) {
        self.dtype = dtype
        self.shape = shape
    }

    public static let magic: [UInt8] = [0x93, UInt8(ascii: "N"), UInt8(ascii: "U"), UInt8(ascii: "M"), UInt8(ascii: "P"), UInt8(ascii: "Y")]

    /// The id file of `rows` ids.
    public static func ids(rows: Int64) -> NumPyHeader { .init(dtype: .int64, shape: [rows]) }

    /// The vector file of a collection: float32 `(N, dim)` or uint8 `(N, dim/8)`.
    public static func vectors(rows: Int64, kind: VectorKind, dimension: Int) -> NumPyHeader {
        switch kind {
        case .float: .init(dtype: .float32, shape: [rows, Int64(dimension)])
        case .binary: .init(dtype: .uint8, shape: [rows, Int64(dimension / 8)])
        }
    }

    /// The dictionary text, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
    public var dictionary: String {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        return "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
    }

    /// Magic, version 1.0, u16 header length, the padded dictionary.
    public func encoded() -> [UInt8] {
        let dict = Array(dictionary.utf8)
        let unpadded = 6 + 2 + 2 + dict.count + 1
        let total = (unpadded + 63) / 64 * 64
        let headerLength = total - 10
        var out = NumPyHeader.magic
        out += [1, 0, UInt8(headerLength & 0xff), UInt8(headerLength >> 8)]
        out += dict
        out += [UInt8](repeating: UInt8(ascii: " "), count: total - unpadded)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// Bytes of one row, or nil when a dimension is negative or the product overflows (a shape
    /// read from a file is untrusted).
    public var checkedRowBytes: Int64? {
        var bytes = Int64(dtype.itemSize)
        for d in shape.dropFirst() {
            guard d >= 0 else { return nil }
            let (p, overflow) = bytes.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            bytes = p
        }
        return bytes
    }

    /// Bytes of the whole array, or nil when a dimension is negative or the size overflows.
    public var checkedPayloadBytes: Int64? {
        let rows = shape.first ?? 0
        guard let row = checkedRowBytes, rows >= 0 else { return nil }
        let (p, overflow) = rows.multipliedReportingOverflow(by: row)
        return overflow ? nil : p
    }

    /// The headers this tool writes always have a valid size; a parsed header has been checked
    /// by `NumPyFile.parse`. Saturates instead of trapping otherwise.
    public var rowBytes: Int64 { checkedRowBytes ?? Int64.max }
    public var payloadBytes: Int64 { checkedPayloadBytes ?? Int64.max }
    /// Header plus payload: the size of the whole file.
    public var fileSize: Int64 {
        let (sum, overflow) = Int64(encoded().count).addingReportingOverflow(payloadBytes)
        return overflow ? Int64.max : sum
    }
}
