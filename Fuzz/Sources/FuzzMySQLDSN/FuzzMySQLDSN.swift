// meta.mysqlUrl: the Go driver DSN and the mysql:// URL forms, and the redacted address.
import FuzzSupport
@testable import MilvusMigration

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: fuzzBytes(data, count), as: UTF8.self)
    do {
        let dsn = try MySQLDSN(parsing: text)
        _ = (dsn.redacted, dsn.description, dsn.debugDescription, String(describing: dsn))
        // The redacted form is what messages show: it must parse again to the same address.
        if case .tcp = dsn.endpoint, !dsn.user.contains(where: { ":@/?#%[]".contains($0) }),
           !dsn.database.contains(where: { "/?#%".contains($0) }), !dsn.database.isEmpty {
            _ = try? MySQLDSN(parsing: dsn.redacted)
        }
    } catch {
        _ = String(describing: error)
    }
    return 0
}

@main enum Main {
    static func main() { runFuzzer(fuzzOne) }
}
