import Crypto
import Foundation

/// AWS Signature Version 4 (header form), as S3 and S3-compatible stores verify it.
/// Pure functions: the canonical request, the string to sign, the signing key and the signature,
/// so each step can be checked against AWS's published examples.
public struct SigV4: Sendable {
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// SHA-256 of the empty string.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// For streamed bodies over TLS (S3 accepts it in place of the payload hash).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    public var region: String
    public var service: String

    public init(region: String, service: String = "s3") {
        self.region = region
        self.service = service
    }

    /// What a signature is made from. `canonicalURI` is the already-encoded path (`/bucket/a%20b`);
    /// query items and headers are raw and canonicalized here.
    public struct Request: Sendable {
        public var method: String
        public var canonicalURI: String
        public var query: [(String, String)]
        public var headers: [(String, String)]
        public var payloadHash: String

        public init(method: String, canonicalURI: String, query: [(String, String)] = [], headers: [(String, String)], payloadHash: String) {
            self.method = method
            self.canonicalURI = canonicalURI
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    public struct Signed: Sendable {
        public var canonicalRequest: String
        public var stringToSign: String
        public var signature: String
        public var signedHeaders: String
        public var authorization: String
    }

    /// `20130524T000000Z`.
    public static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// `GET\n/test.txt\n\nhost:...\n\nhost;range;...\n<payload hash>`.
    public static func canonicalRequest(_ r: Request) -> (text: String, signedHeaders: String) {
        var pairs: [(String, String)] = []
        for (name, value) in r.query {
            pairs.append((uriEncode(name, keepSlash: false), uriEncode(value, keepSlash: false)))
        }
        pairs.sort { (a: (String, String), b: (String, String)) -> Bool in a.0 == b.0 ? a.1 < b.1 : a.0 < b.0 }
        let query = pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        // Lower-case names, trimmed values with inner runs of spaces collapsed; repeated names joined by ",".
        var merged: [String: String] = [:]
        for (name, value) in r.headers {
            let key = name.lowercased()
            let clean = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            merged[key] = merged[key].map { "\($0),\(clean)" } ?? clean
        }
        let names = merged.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(merged[$0]!)\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let text = [r.method, r.canonicalURI, query, canonicalHeaders, signedHeaders, r.payloadHash].joined(separator: "\n")
        return (text, signedHeaders)
    }

    public func scope(_ timestamp: String) -> String {
        "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request"
    }

    public func stringToSign(canonicalRequest: String, timestamp: String) -> String {
        [SigV4.algorithm, timestamp, scope(timestamp), SigV4.hex(SHA256.hash(data: Array(canonicalRequest.utf8)))].joined(separator: "\n")
    }

    /// HMAC chain: "AWS4"+secret → date → region → service → "aws4_request".
    public func signingKey(secret: String, timestamp: String) -> SymmetricKey {
        var key = SymmetricKey(data: Array("AWS4\(secret)".utf8))
        for part in [String(timestamp.prefix(8)), region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return key
    }

    /// Signs `request`, whose headers must already hold `host`, `x-amz-date` (= `timestamp`) and,
    /// for S3, `x-amz-content-sha256`.
    public func sign(_ request: Request, accessKey: String, secretKey: String, timestamp: String) -> Signed {
        let (canonical, signedHeaders) = SigV4.canonicalRequest(request)
        let toSign = stringToSign(canonicalRequest: canonical, timestamp: timestamp)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(toSign.utf8), using: signingKey(secret: secretKey, timestamp: timestamp))
        let signature = SigV4.hex(mac)
        let authorization = "\(SigV4.algorithm) Credential=\(accessKey)/\(scope(timestamp)), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return Signed(canonicalRequest: canonical, stringToSign: toSign, signature: signature, signedHeaders: signedHeaders, authorization: authorization)
    }

    /// RFC 3986 encoding as SigV4 wants it: every byte but `A-Z a-z 0-9 - _ . ~` as `%XX`
    /// (upper-case hex); `/` kept in paths.
    public static func uriEncode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    public static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func hex(_ digest: SHA256.Digest) -> String { hex(Array(digest)) }
    public static func hex(_ mac: HashedAuthenticationCode<SHA256>) -> String { hex(Array(mac)) }

    public static func sha256Hex(_ bytes: UnsafeRawBufferPointer) -> String { hex(SHA256.hash(data: bytes)) }
    public static func sha256Hex(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }
}
