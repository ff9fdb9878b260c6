import Foundation

/// The life of one segment in a migration, persisted in the journal:
/// pending → staged → importing(task) → imported → verified, or failed with a reason.
/// A rerun reads it back and continues from each segment's last phase.
public enum SegmentPhase: String, Codable, Sendable {
    case pending
    case staged
    case importing
    case imported
    case verified
    case failed

    /// The NumPy files exist and are complete.
    public var isStaged: Bool { self != .pending && self != .failed }
}

/// One staged `.npy` file as the journal remembers it.
public struct StagedFileRecord: Codable, Sendable, Equatable {
    public var path: String
    public var bytes: Int64
    public var checksum: String
}

public struct SegmentRecord: Codable, Sendable, Equatable {
    /// `<collection>/<partition>/<segment>`.
    public var key: String
    public var phase: SegmentPhase
    public var files: [StagedFileRecord]
    public var rows: Int64
    public var deletedRows: Int64
    /// What the source looked like when staged; a different source means stage again.
    public var sourceFingerprint: String
    public var importTask: Int64?
    public var failure: String?
    public var updated: Date
}

/// The job journal: one JSON file in the staging root, rewritten atomically (temp file, fsync,
/// rename) after every change, so a `kill -9` at any moment leaves the previous or the next state.
public actor JobJournal {
    public static let fileName = "journal.json"

    private struct File: Codable {
        var version: Int
        var segments: [SegmentRecord]
    }

    private let staging: any StagingArea
    private var records: [String: SegmentRecord]

    private init(staging: any StagingArea, records: [String: SegmentRecord]) {
        self.staging = staging
        self.records = records
    }

    /// Opens the journal of a staging area (empty when there is none yet).
    public static func open(_ staging: any StagingArea) async throws -> JobJournal {
        guard let bytes = try await staging.readSmallFile(fileName) else {
            return JobJournal(staging: staging, records: [:])
        }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let file = try decoder.decode(File.self, from: Data(bytes))
            guard file.version == 1 else {
                throw MigrationError.io(path: "\(staging.location)/\(fileName)", operation: "use", reason: "journal version \(file.version) is not supported")
            }
            return JobJournal(staging: staging, records: Dictionary(file.segments.map { ($0.key, $0) }, uniquingKeysWith: { $1 }))
        } catch let error as MigrationError {
            throw error
        } catch {
            throw MigrationError.io(path: "\(staging.location)/\(fileName)", operation: "read the journal", reason: "it is damaged (\(error)); move it away to start the job over")
        }
    }

    public func record(_ key: String) -> SegmentRecord? { records[key] }

    public var all: [SegmentRecord] { records.values.sorted { $0.key < $1.key } }

    public func update(_ record: SegmentRecord) async throws {
        records[record.key] = record
        try await persist()
    }

    private func persist() async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(File(version: 1, segments: all))
        try await staging.writeSmallFile(JobJournal.fileName, [UInt8](data))
    }
}
