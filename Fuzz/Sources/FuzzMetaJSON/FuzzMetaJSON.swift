// meta.json (this tool's format and the reference tool's), then what dump/load do with it:
// totals, the deleted-row figures, and writing it back (dump copies it to the staging area).
import Foundation
import FuzzSupport
@testable import MilvusMigration

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzBytes(data, count)
    do {
        let meta = try MetaJSON.decode(Data(bytes), origin: "meta.json")
        _ = meta.totalRows
        for c in meta.collections {
            _ = (c.rows, c.bytesPerRow, c.segments.count, c.vectorKind)
            for p in c.partitions { _ = MetaJSON.deletedRows(p, c) }
        }
        for d in meta.diagnostics { _ = String(describing: d) }
        // What dump writes must read back to the same meta.
        let again = try MetaJSON.decode(Data(MetaJSON.encode(meta).utf8), origin: "meta.json")
        if again.collections != meta.collections {
            fatalError("meta.json round trip changed the meta")
        }
    } catch {
        _ = String(describing: error)
    }
    return 0
}

@main enum Main {
    static func main() { runFuzzer(fuzzOne) }
}
