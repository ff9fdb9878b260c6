// migration.yaml: the YAML document, the dotted keys, ${VAR} expansion, every typed key.
import FuzzSupport
@testable import MilvusMigration

private let environment = ["MM_FUZZ": "value", "MM_FUZZ_EMPTY": "", "HOME": "/root"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: fuzzBytes(data, count), as: UTF8.self)
    do {
        let config = try MigrationConfig.parse(text, file: "migration.yaml", environment: environment)
        _ = String(describing: config)
    } catch {
        _ = String(describing: error)
    }
    return 0
}

@main enum Main {
    static func main() { runFuzzer(fuzzOne) }
}
