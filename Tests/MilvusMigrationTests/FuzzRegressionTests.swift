import Foundation
import Testing
@testable import MilvusMigration

/// Inputs the fuzz targets in Fuzz/ found to crash a parser (scripts/fuzz.sh), inlined, each
/// checked to end in a refusal instead. Each was a crash (the test process died) before its fix.
@Suite struct FuzzRegressionTests {
    /// FuzzS3XML: an S3 answer whose element name is not valid UTF-8 (`<Me\xC6sage>`) trapped
    /// inside Foundation's XMLParser (a force-unwrapped name), so a broken server or proxy could
    /// crash any S3 operation through its error body.
    @Test func s3AnswerWithInvalidUTF8ElementNameIsRefused() {
        let found = Array("<DeleteResult><Error><Key>k</Key><Code>AccessDenied</Code><Me".utf8) + [0xC6]
            + Array("sage>no</Messag&></Error></DeleteResult>".utf8)
        let minimal = Array("<Error><C".utf8) + [0xC6] + Array("de>SlowDown</C".utf8) + [0xC6] + Array("de></Error>".utf8)
        for bytes in [found, minimal] {
            #expect(S3XMLNode.parse(bytes) == nil)
            #expect(S3ErrorBody(bytes) == nil)
        }
        // A well-formed UTF-8 error body still reads, non-ASCII text included.
        let body = S3ErrorBody(Array("<Error><Code>SlowDown</Code><Message>réduire</Message></Error>".utf8))
        #expect(body?.code == "SlowDown" && body?.message == "réduire" && body?.isRetryable == true)
    }

    /// FuzzS3XML: a processing instruction without data (`<?St2F9?>`) made Foundation's XMLParser
    /// call strlen on a null pointer (SIGSEGV). A DTD is refused the same way.
    @Test func s3AnswerWithProcessingInstructionOrDTDIsRefused() {
        let found = Array(("<?St2F9?>Ul version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><C rate.</Message442586FB7D0A2F9?>UTF-9\n<E"
            + "roding=\"UTF-8\"?>\n<Error><C rate.</Mringxml version=\"2.0\" encoding=\"UTF-8\"?>\n<Error><C rate.<"
            + "/Me2F9</RequestId></Error>").utf8)
        for bytes in [found, Array("<?a?><Error><Code>x</Code></Error>".utf8), Array("<?xml8?><Error><Key>k</Key></Error>".utf8),
                      Array("<?xml rsi1><Nam.e>b</<?x0?><\"?".utf8),
                      Array("<?xml version=\"1.0\"?><Error><?pi?><Code>x</Code></Error>".utf8),
                      Array("<!DOCTYPE Error [<!ENTITY e SYSTEM \"file:///etc/hostname\">]><Error><Code>&e;</Code></Error>".utf8)] {
            #expect(S3XMLNode.parse(bytes) == nil)
            #expect(S3ErrorBody(bytes) == nil)
        }
        // The XML declaration S3 sends, a BOM, comments and CDATA are fine.
        let body = S3ErrorBody(Array("\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c --><Error><Code>SlowDown</Code><Message><![CDATA[<x>]]></Message></Error>".utf8))
        #expect(body?.code == "SlowDown")
    }
}
