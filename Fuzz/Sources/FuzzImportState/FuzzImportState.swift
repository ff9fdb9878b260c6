// GetImportState / ListImportTasks answers: arbitrary bytes decoded as the protobuf messages, then
// our interpretation (MilvusClient.taskStatus) and what load does with it.
import FuzzSupport
import MilvusProto
import SwiftProtobuf
@testable import MilvusMigration

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzBytes(data, count)
    var statuses: [ImportTaskStatus] = []
    if let r = try? Milvus_Proto_Milvus_GetImportStateResponse(serializedBytes: bytes) {
        statuses.append(MilvusClient.taskStatus(r))
    }
    if let r = try? Milvus_Proto_Milvus_ListImportTasksResponse(serializedBytes: bytes) {
        statuses += r.tasks.map(MilvusClient.taskStatus)
    }
    let staged = ["c/1/id.npy", "c/1/data.npy"]
    for s in statuses {
        _ = (s.state.isFinal, "\(s.state)", s.failedReason, Set(s.files) == Set(staged), s.rows != 0 && s.rows != 42)
    }
    return 0
}

@main enum Main {
    static func main() { runFuzzer(fuzzOne) }
}
