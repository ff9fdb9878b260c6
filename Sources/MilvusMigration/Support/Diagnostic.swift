/// A problem found while reading the source or planning. Errors stop the migration before any
/// data moves; warnings are reported and the migration goes on.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable, Codable {
        case error
        case warning
    }

    public var severity: Severity
    /// What the problem is about: `collection c`, `segment file tables/c/123/123.rv`, ...
    public var subject: String
    public var message: String

    public init(_ severity: Severity, _ subject: String, _ message: String) {
        self.severity = severity
        self.subject = subject
        self.message = message
    }

    public static func error(_ subject: String, _ message: String) -> Diagnostic { .init(.error, subject, message) }
    public static func warning(_ subject: String, _ message: String) -> Diagnostic { .init(.warning, subject, message) }

    public var description: String { "\(severity.rawValue): \(subject): \(message)" }
}

extension Array where Element == Diagnostic {
    public var errors: [Diagnostic] { filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { filter { $0.severity == .warning } }
}
