// S3 XML answers: error bodies (S3ErrorBody, retry decision) and the element tree the listing,
// multipart and STS code walk.
import FuzzSupport
@testable import MilvusMigration

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzBytes(data, count)
    if let error = S3ErrorBody(bytes) {
        _ = (error.code, error.message, error.region, error.endpoint, error.isRetryable)
    }
    if let root = S3XMLNode.parse(bytes) {
        for c in root.all("Contents") { _ = (c.value("Key"), Int64(c.value("Size") ?? ""), c.value("ETag")) }
        _ = root.all("CommonPrefixes").compactMap { $0.value("Prefix") }
        _ = (root.value("IsTruncated"), root.value("NextContinuationToken"), root.value("UploadId"))
        for e in root.all("Error") { _ = "\(e.value("Key") ?? ""): \(e.value("Code") ?? "")" }
        _ = root.child("AssumeRoleWithWebIdentityResult")?.child("Credentials")?.value("AccessKeyId")
        _ = S3XMLNode.escape(root.text)
    }
    return 0
}

@main enum Main {
    static func main() { runFuzzer(fuzzOne) }
}
