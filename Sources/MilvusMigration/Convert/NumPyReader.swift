import Foundation

/// Reads the header of a `.npy` file written by `NumPyHeader` (or numpy): dtype, shape, order and
/// where the data starts. Used to verify staged files and in tests.
public struct NumPyFile: Sendable, Equatable {
    public var header: NumPyHeader
    public var fortranOrder: Bool
    public var dataOffset: Int

    /// Parses the first bytes of a file (at least the whole header).
    public static func parse(_ bytes: [UInt8], file: String) throws -> NumPyFile {
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
        guard bytes.count >= start + headerLength else { throw bad("header longer than the bytes given") }
        let text = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        guard let descr = capture(text, after: "'descr':"), let dtype = NumPyHeader.DType(rawValue: descr.trimmingCharacters(in: CharacterSet(charactersIn: " '"))) else {
            throw bad("unsupported dtype in \(text)")
        }
        let fortran = text.contains("'fortran_order': True")
        guard let open = text.range(of: "'shape': ("), let close = text[open.upperBound...].firstIndex(of: ")") else { throw bad("no shape") }
        let shape = text[open.upperBound..<close].split(separator: ",").compactMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
        return NumPyFile(header: NumPyHeader(dtype: dtype, shape: shape), fortranOrder: fortran, dataOffset: start + headerLength)
    }

    public static func read(path: String) throws -> NumPyFile {
        let file = try LocalFile(path: path)
        let prefix = try file.readSync(at: 0, count: Int(min(file.size, 4096)))
        return try parse(prefix, file: path)
    }

    private static func capture(_ text: String, after key: String) -> String? {
        guard let r = text.range(of: key) else { return nil }
        let rest = text[r.upperBound...]
        guard let comma = rest.firstIndex(of: ",") else { return nil }
        return String(rest[..<comma])
    }
}
