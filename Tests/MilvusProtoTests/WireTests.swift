import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import MilvusProto
import SwiftProtobuf
import Testing

private func hex<M: SwiftProtobuf.Message>(_ m: M) throws -> String {
    let bytes: [UInt8] = try m.serializedBytes()
    return bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
}
private func bytes(_ s: String) -> [UInt8] {
    s.split(separator: " ").map { UInt8($0, radix: 16)! }
}

// Expected bytes are computed by hand from the field numbers in proto/*.proto (milvus-proto v2.3.x):
// tag = (field << 3) | wiretype; 0 = varint, 1 = 64-bit, 2 = length-delimited, 5 = 32-bit.
@Suite struct WireEncoding {
    @Test func importRequest() throws {
        var r = Milvus_Proto_Milvus_ImportRequest()
        r.collectionName = "c"          // 1 -> 0a
        r.files = ["a", "b"]             // 5 -> 2a
        #expect(try hex(r) == "0a 01 63 2a 01 61 2a 01 62")
        r.partitionName = "p"           // 2 -> 12
        r.rowBased = true               // 4 -> 20
        r.options = [.with { $0.key = "k"; $0.value = "v" }]  // 6 -> 32, KeyValuePair key 1 / value 2
        r.dbName = "d"                  // 7 -> 3a
        #expect(try hex(r) == "0a 01 63 12 01 70 20 01 2a 01 61 2a 01 62 32 06 0a 01 6b 12 01 76 3a 01 64")
    }

    @Test func importStateAndList() throws {
        #expect(try hex(Milvus_Proto_Milvus_GetImportStateRequest.with { $0.task = 300 }) == "08 ac 02")
        let l = Milvus_Proto_Milvus_ListImportTasksRequest.with {
            $0.collectionName = "c"; $0.limit = 2; $0.dbName = "d"
        }
        #expect(try hex(l) == "0a 01 63 10 02 1a 01 64")
    }

    @Test func createCollectionAndSchema() throws {
        let f = Milvus_Proto_Schema_FieldSchema.with {
            $0.name = "v"                                   // 2 -> 12
            $0.dataType = .floatVector                      // 5 -> 28 65
            $0.typeParams = [.with { $0.key = "dim"; $0.value = "8" }] // 6 -> 32
            $0.autoID = true                                // 8 -> 40
            $0.isPrimaryKey = true                          // 3 -> 18
        }
        #expect(try hex(f) == "12 01 76 18 01 28 65 32 08 0a 03 64 69 6d 12 01 38 40 01")
        let s = Milvus_Proto_Schema_CollectionSchema.with {
            $0.name = "c"; $0.fields = [.with { $0.name = "id"; $0.dataType = .int64 }]
            $0.enableDynamicField = true
        }
        #expect(try hex(s) == "0a 01 63 22 06 12 02 69 64 28 05 28 01")
        let c = Milvus_Proto_Milvus_CreateCollectionRequest.with {
            $0.dbName = "d"                 // 2 -> 12
            $0.collectionName = "c"         // 3 -> 1a
            $0.schema = Data([0x0a, 0x01, 0x63]) // 4 -> 22
            $0.shardsNum = 1                // 5 -> 28
            $0.consistencyLevel = .bounded  // 6 -> 30 02
            $0.numPartitions = 3            // 8 -> 40
        }
        #expect(try hex(c) == "12 01 64 1a 01 63 22 03 0a 01 63 28 01 30 02 40 03")
    }

    @Test func queryInsertIndex() throws {
        let q = Milvus_Proto_Milvus_QueryRequest.with {
            $0.collectionName = "c"          // 3 -> 1a
            $0.outputFields = ["count(*)"]   // 5 -> 2a
            $0.consistencyLevel = .bounded   // 11 -> 58
        }
        #expect(try hex(q) == "1a 01 63 2a 08 63 6f 75 6e 74 28 2a 29 58 02")
        let ins = Milvus_Proto_Milvus_InsertRequest.with {
            $0.collectionName = "c"
            $0.fieldsData = [.with {
                $0.type = .int64            // 1 -> 08 05
                $0.fieldName = "id"         // 2 -> 12
                $0.scalars = .with { $0.longData = .with { $0.data = [1, 2] } } // 3 -> 1a, long_data 3 -> 1a, packed 0a
            }, .with {
                $0.type = .floatVector      // 08 65
                $0.vectors = .with {        // 4 -> 22
                    $0.dim = 1              // 08 01
                    $0.floatVector = .with { $0.data = [1.0] } // 2 -> 12, packed float 0a 04 00 00 80 3f
                }
            }]
            $0.hashKeys = [7]               // 6 -> 32 01 07 (packed)
            $0.numRows = 2                  // 7 -> 38 02
        }
        #expect(try hex(ins) == "1a 01 63 2a 0e 08 05 12 02 69 64 1a 06 1a 04 0a 02 01 02 2a 0e 08 65 22 0a 08 01 12 06 0a 04 00 00 80 3f 32 01 07 38 02")
        let idx = Milvus_Proto_Milvus_CreateIndexRequest.with {
            $0.collectionName = "c"; $0.fieldName = "v"; $0.indexName = "i"
            $0.extraParams = [.with { $0.key = "k"; $0.value = "v" }]
        }
        #expect(try hex(idx) == "1a 01 63 22 01 76 2a 06 0a 01 6b 12 01 76 32 01 69")
        let bin = Milvus_Proto_Schema_VectorField.with { $0.dim = 16; $0.binaryVector = Data([0xff, 0x00]) }
        #expect(try hex(bin) == "08 10 1a 02 ff 00")
    }

    @Test func decodeResponses() throws {
        // Status: error_code 1 = 4 (CollectionNotExists), reason 2 = "bad", code 3 = 100, retriable 4, detail 5 = "x"
        let st = try Milvus_Proto_Common_Status(serializedBytes: bytes("08 04 12 03 62 61 64 18 64 20 01 2a 01 78"))
        #expect(st.errorCode == .collectionNotExists && st.reason == "bad" && st.code == 100 && st.retriable && st.detail == "x")
        // ImportResponse: status {}, tasks packed [1, 300]; an unknown field 9 is skipped.
        let ir = try Milvus_Proto_Milvus_ImportResponse(serializedBytes: bytes("0a 00 12 03 01 ac 02 48 01"))
        #expect(ir.hasStatus && ir.tasks == [1, 300])
        // Unpacked repeated int64 must decode too.
        let ir2 = try Milvus_Proto_Milvus_ImportResponse(serializedBytes: bytes("10 01 10 ac 02"))
        #expect(ir2.tasks == [1, 300])
        // GetImportStateResponse: state 2 = 6 (ImportCompleted), row_count 3 = 10, infos 5, id 6 = 7, segment_ids 8, create_ts 9
        let gs = try Milvus_Proto_Milvus_GetImportStateResponse(serializedBytes:
            bytes("10 06 18 0a 2a 06 0a 01 6b 12 01 76 30 07 38 05 42 02 03 04 48 09"))
        #expect(gs.state == .importCompleted && gs.rowCount == 10 && gs.infos[0].key == "k" && gs.id == 7
                && gs.collectionID == 5 && gs.segmentIds == [3, 4] && gs.createTs == 9)
        // Unknown enum value is preserved.
        let gs2 = try Milvus_Proto_Milvus_GetImportStateResponse(serializedBytes: bytes("10 63"))
        #expect(gs2.state.rawValue == 99)
        // FlushResponse: coll_segIDs 3 = {"c": LongArray[5]}, coll_flush_ts 6 = {"c": 9}
        let fr = try Milvus_Proto_Milvus_FlushResponse(serializedBytes:
            bytes("1a 09 0a 01 63 12 04 0a 02 05 00 32 05 0a 01 63 10 09"))
        #expect(fr.collSegIds["c"]?.data == [5, 0] && fr.collFlushTs["c"] == 9)
        // DescribeIndexResponse: index_descriptions 2 = {state 7 = 3 Finished, pending_index_rows 9 = 0, total_rows 6 = 4}
        let di = try Milvus_Proto_Milvus_DescribeIndexResponse(serializedBytes: bytes("12 04 38 03 30 04"))
        #expect(di.indexDescriptions[0].state == .finished && di.indexDescriptions[0].totalRows == 4)
        // QueryResults: fields_data 2 = {scalars 3 = {long_data 3 = {data [42]}}}
        let qr = try Milvus_Proto_Milvus_QueryResults(serializedBytes: bytes("12 07 1a 05 1a 03 0a 01 2a"))
        #expect(qr.fieldsData[0].scalars.longData.data == [42])
        // MutationResult: IDs 2 = {int_id 1 = [1]}, insert_cnt 6 = 1, timestamp 9 = 5
        let mr = try Milvus_Proto_Milvus_MutationResult(serializedBytes: bytes("12 05 0a 03 0a 01 01 30 01 48 05"))
        #expect(mr.ids.intID.data == [1] && mr.insertCnt == 1 && mr.timestamp == 5)
        // GetLoadingProgressResponse progress 2 = 100
        #expect(try Milvus_Proto_Milvus_GetLoadingProgressResponse(serializedBytes: bytes("10 64")).progress == 100)
    }

    @Test func methodPaths() {
        typealias M = Milvus_Proto_Milvus_MilvusService.Method
        #expect(M.Import.descriptor.fullyQualifiedMethod == "milvus.proto.milvus.MilvusService/Import")
        #expect(M.GetVersion.descriptor.fullyQualifiedMethod == "milvus.proto.milvus.MilvusService/GetVersion")
        let names = Milvus_Proto_Milvus_MilvusService.Method.descriptors.map(\.method)
        #expect(names == ["GetVersion", "HasCollection", "CreateCollection", "DescribeCollection", "DropCollection",
                          "CreatePartition", "HasPartition", "ShowPartitions", "CreateDatabase", "ListDatabases",
                          "Import", "GetImportState", "ListImportTasks", "Flush", "GetFlushState",
                          "GetCollectionStatistics", "GetPartitionStatistics", "CreateIndex", "DescribeIndex",
                          "LoadCollection", "GetLoadingProgress", "Query", "Insert"])
    }
}

/// A hand-written server for two methods (the generated code has no server stubs),
/// so the generated client can be exercised over real HTTP/2 on loopback.
struct FakeMilvus: RegistrableRPCService {
    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: Milvus_Proto_Milvus_MilvusService.Method.GetVersion.descriptor,
            deserializer: ProtobufDeserializer<Milvus_Proto_Milvus_GetVersionRequest>(),
            serializer: ProtobufSerializer<Milvus_Proto_Milvus_GetVersionResponse>()
        ) { request, _ in
            for try await _ in request.messages {}
            return StreamingServerResponse(single: ServerResponse(message: .with {
                $0.status = .with { $0.code = 0; $0.errorCode = .success }
                $0.version = "v2.3.5-fake"
            }))
        }
        router.registerHandler(
            forMethod: Milvus_Proto_Milvus_MilvusService.Method.Import.descriptor,
            deserializer: ProtobufDeserializer<Milvus_Proto_Milvus_ImportRequest>(),
            serializer: ProtobufSerializer<Milvus_Proto_Milvus_ImportResponse>()
        ) { request, _ in
            var got: [Milvus_Proto_Milvus_ImportRequest] = []
            for try await m in request.messages { got.append(m) }
            let auth = request.metadata[stringValues: "authorization"].first(where: { _ in true }) ?? ""
            return StreamingServerResponse(single: ServerResponse(message: .with {
                $0.status = .with { $0.reason = "\(got[0].collectionName)|\(got[0].files.joined(separator: ","))|\(auth)" }
                $0.tasks = [41, 42]
            }))
        }
    }
}

@Suite struct Loopback {
    @Test func generatedClientOverHTTP2() async throws {
        let server = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext)
        try await withGRPCServer(transport: server, services: [FakeMilvus()]) { _ in
            guard let port = try await server.listeningAddress.ipv4?.port else {
                Issue.record("no port"); return
            }
            let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port),
                                                           transportSecurity: .plaintext)
            try await withGRPCClient(transport: transport) { grpc in
                let milvus = Milvus_Proto_Milvus_MilvusService.Client(wrapping: grpc)
                var options = CallOptions.defaults
                // The fake's handlers run on the test process's cooperative pool, which other suites
                // keep busy with synchronous CLI runs on a 2-core runner: a generous deadline, since
                // this test checks the wire format, not latency.
                options.timeout = .seconds(120)
                let v = try await milvus.getVersion(.init(), options: options)
                #expect(v.version == "v2.3.5-fake" && v.status.code == 0)
                let r = try await milvus.import(
                    .with { $0.collectionName = "c"; $0.files = ["a", "b"] },
                    metadata: ["authorization": "cm9vdDpNaWx2dXM="],
                    options: options)
                #expect(r.tasks == [41, 42])
                #expect(r.status.reason == "c|a,b|cm9vdDpNaWx2dXM=")
                // An RPC the fake does not implement comes back as a gRPC error (unimplemented).
                do {
                    _ = try await milvus.hasCollection(.with { $0.collectionName = "c" }, options: options)
                    Issue.record("expected unimplemented")
                } catch let e as RPCError {
                    #expect(e.code == .unimplemented)
                }
            }
        }
    }

    @Test func noServerIsUnavailable() async throws {
        let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: 1),
                                                       transportSecurity: .plaintext)
        try await withGRPCClient(transport: transport) { grpc in
            let milvus = Milvus_Proto_Milvus_MilvusService.Client(wrapping: grpc)
            var options = CallOptions.defaults
            options.timeout = .seconds(5)
            await #expect(throws: RPCError.self) {
                _ = try await milvus.getVersion(.init(), options: options)
            }
        }
    }
}
