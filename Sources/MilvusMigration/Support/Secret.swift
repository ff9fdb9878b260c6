/// A credential from the config. It prints as `<redacted>` everywhere (logs, errors, reports);
/// only the code that sends it reads `revealed`.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let revealed: String

    public init(_ value: String) {
        revealed = value
    }

    public var isEmpty: Bool { revealed.isEmpty }
    public var description: String { revealed.isEmpty ? "" : "<redacted>" }
    public var debugDescription: String { description }
}
