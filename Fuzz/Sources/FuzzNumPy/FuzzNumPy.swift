// .npy headers as load/resume read them back from staging (NumPyFile.parse), compared with the
// headers the dump would write.
import FuzzSupport
@testable import MilvusMigration

private let expected: [NumPyHeader] = [
    .ids(rows: 3), .vectors(rows: 3, kind: .float, dimension: 4), .vectors(rows: 3, kind: .binary, dimension: 16),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzBytes(data, count)
    do {
        let file = try NumPyFile.parse(bytes, file: "data.npy")
        _ = (file.dataOffset, file.fortranOrder, file.header.dictionary)
        for header in expected where file.header == header {
            // What resume accepts must be exactly what the dump writes.
            _ = header.fileSize
        }
        // A parsed header written out again reads back the same.
        let again = try NumPyFile.parse(file.header.encoded(), file: "again.npy")
        if again.header != file.header { fatalError("NumPy header round trip changed \(file.header) to \(again.header)") }
    } catch {
        _ = String(describing: error)
    }
    return 0
}

@main enum Main {
    static func main() { runFuzzer(fuzzOne) }
}
