import Foundation
import Testing
import MilvusProto
@testable import MilvusMigration

/// How Milvus's answer statuses become failure kinds (`MilvusClient.failureKind`), the one place
/// the server's codes and texts are read; the pipeline switches on the kinds.
@Suite struct TargetStatusTests {
    static func status(code: Int32 = 0, errorCode: Milvus_Proto_Common_ErrorCode = .success, reason: String = "") -> Milvus_Proto_Common_Status {
        .with {
            $0.code = code
            $0.errorCode = errorCode
            $0.reason = reason
        }
    }

    @Test func successIsNoFailure() {
        #expect(MilvusClient.failureKind(Self.status()) == nil)
    }

    @Test func comeBackLaterAnswersAreBusy() {
        // Milvus 2.4+ import-v2's job limit, and the retriable service errors (rate limit, too
        // many requests, not ready, unavailable, resource insufficient), by code or legacy error_code.
        #expect(MilvusClient.failureKind(Self.status(code: 2100, errorCode: .unexpectedError, reason: "x")) == .busy)
        #expect(MilvusClient.failureKind(Self.status(code: 8, errorCode: .unexpectedError, reason: "x")) == .busy)
        #expect(MilvusClient.failureKind(Self.status(code: 4, errorCode: .unexpectedError, reason: "too many concurrent requests, queue is full")) == .busy)
        #expect(MilvusClient.failureKind(Self.status(code: 12, errorCode: .unexpectedError, reason: "service resource insufficient")) == .busy)
        // Milvus Lite answers every error with code 1, and code 4 without those words is not one.
        #expect(MilvusClient.failureKind(Self.status(code: 1, errorCode: .unexpectedError, reason: "collection already exists")) == .refused)
        #expect(MilvusClient.failureKind(Self.status(code: 4, errorCode: .collectionNotExists, reason: "collection not found")) == .refused)
        #expect(MilvusClient.failureKind(Self.status(errorCode: .rateLimit, reason: "rate limit exceeded")) == .busy)
        #expect(MilvusClient.failureKind(Self.status(code: 65535, errorCode: .unexpectedError, reason: "number of jobs has reached the limit")) == .busy)
    }

    @Test func quotasAndOtherRefusalsAreNotRetried() {
        // Memory / disk limits (3, 7), quota exceeded / force deny (9), and the legacy quota codes
        // do not pass with time alone: refused, not busy.
        for code: Int32 in [3, 7, 9, 65535] {
            #expect(MilvusClient.failureKind(Self.status(code: code, errorCode: .unexpectedError, reason: "limit")) == .refused, "code \(code)")
        }
        for legacy: Milvus_Proto_Common_ErrorCode in [.forceDeny, .memoryQuotaExhausted, .diskQuotaExhausted] {
            #expect(MilvusClient.failureKind(Self.status(errorCode: legacy, reason: "quota")) == .refused, "\(legacy)")
        }
    }

    @Test func authenticationDatabaseAndLoadStatesAreTheirOwnKinds() {
        #expect(MilvusClient.failureKind(Self.status(errorCode: .permissionDenied, reason: "denied")) == .authentication)
        #expect(MilvusClient.failureKind(Self.status(code: 1800, errorCode: .unexpectedError, reason: "auth check failure, please check username and password are correct")) == .authentication)
        #expect(MilvusClient.failureKind(Self.status(code: 800, errorCode: .unexpectedError, reason: "database not found[database=x]")) == .databaseMissing)
        #expect(MilvusClient.failureKind(Self.status(code: 101, errorCode: .unexpectedError, reason: "collection not loaded")) == .notLoaded)
        #expect(MilvusClient.failureKind(Self.status(code: 65535, errorCode: .unexpectedError, reason: "partition not found")) == .refused)
    }

    /// Which failures prove that a sent batch was not applied (insert mode resends only those).
    @Test func onlyAnswersFromMilvusProveNothingWasApplied() {
        let proves: [TargetFailure.Kind] = [.refused, .busy, .authentication, .notLoaded]
        let unknown: [TargetFailure.Kind] = [.unreachable, .timedOut, .outcomeUnknown, .badAnswer, .mismatch]
        for kind in proves { #expect(MigrationError.target(kind, subject: "s", message: "m").provesNothingApplied, "\(kind)") }
        for kind in unknown { #expect(!MigrationError.target(kind, subject: "s", message: "m").provesNothingApplied, "\(kind)") }
    }
}
