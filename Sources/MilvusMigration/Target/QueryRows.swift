import Foundation
import MilvusProto

/// Decodes the rows of a `Query` answer (ids and vectors) without trusting its lengths: the
/// vector data must hold exactly `ids × dim` values (float) or `ids × dim / 8` bytes (binary),
/// `dim` positive, or the answer is refused with a `.target` error instead of being sliced.
enum QueryRows {
    /// The vector data of an answer.
    enum Vectors {
        case float([Float])
        case binary(Data)
        case none
    }

    static func decode(ids: [Int64], vectors: Milvus_Proto_Schema_VectorField, subject: String) throws -> [(Int64, [UInt8])] {
        let data: Vectors
        switch vectors.data {
        case .floatVector(let array)?: data = .float(array.data)
        case .binaryVector(let bytes)?: data = .binary(bytes)
        default: data = .none
        }
        return try decode(ids: ids, dim: vectors.dim, vectors: data, subject: subject)
    }

    static func decode(ids: [Int64], dim rawDim: Int64, vectors: Vectors, subject: String) throws -> [(Int64, [UInt8])] {
        func refuse(_ why: String) -> MigrationError {
            .target(.badAnswer, subject: subject, message: "the Query answer is inconsistent: \(why)")
        }
        var rows: [(Int64, [UInt8])] = []
        switch vectors {
        case .float(let values):
            guard rawDim > 0, rawDim <= Int64(Int32.max) else { throw refuse("vector dimension \(rawDim)") }
            let dim = Int(rawDim)
            let (needed, overflow) = ids.count.multipliedReportingOverflow(by: dim)
            guard !overflow, values.count == needed else {
                throw refuse("\(ids.count) ids but \(values.count) float values for dimension \(dim)")
            }
            rows.reserveCapacity(ids.count)
            for (i, id) in ids.enumerated() {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(dim * 4)
                for v in values[(i * dim)..<((i + 1) * dim)] { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
                rows.append((id, bytes))
            }
        case .binary(let data):
            guard rawDim > 0, rawDim % 8 == 0, rawDim <= Int64(Int32.max) else {
                throw refuse("binary vector dimension \(rawDim) (a positive multiple of 8 expected)")
            }
            let width = Int(rawDim) / 8
            let (needed, overflow) = ids.count.multipliedReportingOverflow(by: width)
            guard !overflow, data.count == needed else {
                throw refuse("\(ids.count) ids but \(data.count) bytes of binary vectors for dimension \(rawDim)")
            }
            let all = [UInt8](data)
            rows.reserveCapacity(ids.count)
            for (i, id) in ids.enumerated() { rows.append((id, Array(all[(i * width)..<((i + 1) * width)]))) }
        case .none:
            guard ids.isEmpty else { throw refuse("\(ids.count) ids but no vector data") }
        }
        return rows
    }
}
