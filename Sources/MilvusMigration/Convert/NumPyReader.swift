import Foundation

/// Reads the header of a `.npy` file written by `NumPyHeader` (or numpy): dtype, shape, order and
/// where the data starts. Used to verify staged files and in tests.
public struct NumPyFile: Sendable, Equatable {
    public var header: NumPyHeader
    public var fortranOrder: Bool
    public var dataOffset: Int

    /// Parses the first bytes of a file (at least the whole header). `fileSize`, when known, is
    /// checked too: the header must end within the file and the file must hold exactly the
    /// payload the shape declares. Every length is checked before it is used (untrusted input).
    public static func parse(_ bytes: [UInt8], file: String, fileSize: Int64? = nil) throws -> NumPyFile {
        func bad(_ why: String) -> MigrationError { .segment(file: file, message: "not a valid .npy file: \(why)") }
        guard bytes.count >= 10, Array(bytes[0..<6]) == NumPyHeader.magic else { throw bad("no NUMPY magic") }
        let major = bytes[6]
        let headerLength: Int
        let start: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            start = 10
        } else if major == 2 || major == 3, bytes.count >= 12 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            start = 12
        } else {
            throw bad("unsupported version \(major)")
        }
        if let fileSize, Int64(start + headerLength) > fileSize {
            throw bad("the header declares \(headerLength) bytes, past the end of the file (\(fileSize) bytes)")
        }
        guard bytes.count >= start + headerLength else { throw bad("header longer than the bytes given") }
        let text = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        guard let descr = capture(text, after: "'descr':"), let dtype = NumPyHeader.DType(rawValue: descr.trimmingCharacters(in: CharacterSet(charactersIn: " '"))) else {
            throw bad("unsupported dtype in \(text)")
        }
        let fortran = text.contains("'fortran_order': True")
        guard let open = text.range(of: "'shape': ("), let close = text[open.upperBound...].firstIndex(of: ")") else { throw bad("no shape") }
        var shape: [Int64] = []
        for part in text[open.upperBound..<close].split(separator: ",") {
            let item = part.trimmingCharacters(in: .whitespaces)
            if item.isEmpty { continue }
            guard let d = Int64(item), d >= 0 else { throw bad("shape entry '\(item.prefix(40))' is not a non-negative integer") }
            shape.append(d)
        }
        let header = NumPyHeader(dtype: dtype, shape: shape)
        guard let payload = header.checkedPayloadBytes else {
            throw bad("shape (\(shape.map(String.init).joined(separator: ", "))) of \(dtype.rawValue) overflows a 64-bit size")
        }
        if let fileSize, fileSize - Int64(start + headerLength) != payload {
            throw bad("the shape declares \(payload) data bytes but the file holds \(fileSize - Int64(start + headerLength))")
        }
        return NumPyFile(header: header, fortranOrder: fortran, dataOffset: start + headerLength)
    }

    /// The longest header `read(path:)` accepts (numpy writes a few hundred bytes).
    public static let maxHeaderBytes = 1 << 20

    public static func read(path: String) throws -> NumPyFile {
        let file = try LocalFile(path: path)
        var prefix = try file.readSync(at: 0, count: Int(min(file.size, 4096)))
        // A version 2/3 header may be longer than the first read; its length is checked first.
        if prefix.count >= 12, prefix[6] == 2 || prefix[6] == 3 {
            let declared = Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24
            guard declared <= maxHeaderBytes else {
                throw MigrationError.segment(file: path, message: "not a valid .npy file: header of \(declared) bytes (at most \(maxHeaderBytes) accepted)")
            }
            if Int64(12 + declared) <= file.size, 12 + declared > prefix.count {
                prefix = try file.readSync(at: 0, count: 12 + declared)
            }
        }
        return try parse(prefix, file: path, fileSize: file.size)
    }

    private static func capture(_ text: String, after key: String) -> String? {
        guard let r = text.range(of: key) else { return nil }
        let rest = text[r.upperBound...]
        guard let comma = rest.firstIndex(of: ",") else { return nil }
        return String(rest[..<comma])
    }
}
