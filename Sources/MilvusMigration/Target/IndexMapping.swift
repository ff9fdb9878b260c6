import Foundation

/// The 2.x index rebuilt from a 1.x collection's engine type, index params and metric
/// (docs/FORMAT.md §8.2–§8.3).
public struct IndexMapping: Sendable, Equatable {
    public var indexType: String
    public var metric: String
    /// JSON text for CreateIndex `params`.
    public var params: String
    /// Set when the 1.x index has no 2.x equivalent and a substitute was chosen.
    public var note: String?

    public static func forCollection(_ c: SourceCollection) throws -> IndexMapping {
        let subject = "collection '\(c.name)'"
        guard let metric = c.metric else { throw MigrationError.target(.unsupported, subject: subject, message: "unknown metric \(c.metricType)") }
        let metricName: String
        var note: String?
        switch metric {
        case .l2, .ip, .hamming, .jaccard: metricName = metric.name
        case .tanimoto:
            metricName = "JACCARD"
            note = "TANIMOTO mapped to JACCARD (same ranking, different distance values)"
        case .substructure, .superstructure:
            metricName = metric.name
            note = "\(metric.name) exists only in early 2.x releases; the server may refuse this index"
        }
        let params = jsonObject(c.indexParams)
        func pick(_ keys: [String]) -> String {
            let kept = keys.compactMap { key in params[key].map { "\"\(key)\":\($0)" } }
            return "{" + kept.joined(separator: ",") + "}"
        }
        let hnswDefaults = "{\"M\":16,\"efConstruction\":200}"
        if c.vectorKind == .binary {
            switch c.engine {
            case .binIVFFlat?, .ivfFlat?: return .init(indexType: "BIN_IVF_FLAT", metric: metricName, params: pick(["nlist"]).withDefault("{\"nlist\":1024}"), note: note)
            default: return .init(indexType: "BIN_FLAT", metric: metricName, params: "{}", note: note)
            }
        }
        switch c.engine {
        case .flat?, .invalid?, nil: return .init(indexType: "FLAT", metric: metricName, params: "{}", note: note)
        case .ivfFlat?: return .init(indexType: "IVF_FLAT", metric: metricName, params: pick(["nlist"]).withDefault("{\"nlist\":1024}"), note: note)
        case .ivfSQ8?: return .init(indexType: "IVF_SQ8", metric: metricName, params: pick(["nlist"]).withDefault("{\"nlist\":1024}"), note: note)
        case .ivfSQ8H?: return .init(indexType: "IVF_SQ8", metric: metricName, params: pick(["nlist"]).withDefault("{\"nlist\":1024}"), note: "IVF_SQ8H (GPU hybrid) mapped to IVF_SQ8")
        case .ivfPQ?: return .init(indexType: "IVF_PQ", metric: metricName, params: pick(["nlist", "m", "nbits"]).withDefault("{\"nlist\":1024,\"m\":8}"), note: note)
        case .hnsw?: return .init(indexType: "HNSW", metric: metricName, params: pick(["M", "efConstruction"]).withDefault(hnswDefaults), note: note)
        case .annoy?: return .init(indexType: "HNSW", metric: metricName, params: hnswDefaults, note: "ANNOY has no 2.3+ equivalent; HNSW used")
        case .rnsg?: return .init(indexType: "HNSW", metric: metricName, params: hnswDefaults, note: "RNSG has no 2.x equivalent; HNSW used")
        case .sptagKDT?, .sptagBKT?: return .init(indexType: "HNSW", metric: metricName, params: hnswDefaults, note: "SPTAG has no 2.x equivalent; HNSW used")
        case .binFlat?, .binIVFFlat?: return .init(indexType: "FLAT", metric: metricName, params: "{}", note: "binary engine on a float collection; FLAT used")
        }
    }

    /// Top-level keys of a JSON object with their raw JSON values (numbers as written).
    static func jsonObject(_ text: String) -> [String: String] {
        guard let data = text.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        var out: [String: String] = [:]
        for (key, value) in object {
            if let n = value as? NSNumber { out[key] = n.stringValue } else if let s = value as? String { out[key] = "\"\(s)\"" }
        }
        return out
    }
}

private extension String {
    func withDefault(_ fallback: String) -> String { self == "{}" ? fallback : self }
}
