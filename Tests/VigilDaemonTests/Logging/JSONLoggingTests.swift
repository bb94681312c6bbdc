import Foundation
import Logging
import Testing
import VigilCore

@testable import VigilDaemon

@Suite struct JSONLoggingTests {
    @Test func oneParsableObjectPerLine() throws {
        let capture = LogCapture()
        var logger = capture.logger("vigil.kafka")
        logger[metadataKey: "partition"] = "3"
        logger.warning(
            "quote \" backslash \\ newline \n tab \t bell \u{7} unicode é 🚀",
            metadata: [
                "nested": ["inner": "x", "deeper": ["leaf": "y"]],
                "list": ["a", "b\"c"],
                "msg": "shadowed",
                "count": .stringConvertible(42),
                "error": "disk full",
            ])
        let raw = try #require(capture.raw.first)
        #expect(raw.hasSuffix("}\n"))
        #expect(raw.dropLast().contains("\n") == false, "one line per record")
        let object = try #require(capture.objects.first)
        #expect(object["level"] as? String == "warning")
        #expect(object["logger"] as? String == "vigil.kafka")
        #expect(object["msg"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{7} unicode é 🚀")
        #expect(object["partition"] as? String == "3")
        #expect(object["nested.inner"] as? String == "x")
        #expect(object["nested.deeper.leaf"] as? String == "y")
        #expect(object["list"] as? [String] == ["a", "b\"c"])
        #expect(object["_msg"] as? String == "shadowed")
        #expect(object["count"] as? String == "42")
        #expect(object["error"] as? String == "disk full", "plain metadata named error is kept as is")
        let timestamp = try #require(object["ts"] as? String)
        #expect(timestamp.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil, "\(timestamp)")
        let parsed = try #require(ISO8601DateFormatter.withFractionalSeconds.date(from: timestamp))
        #expect(abs(parsed.timeIntervalSinceNow) < 60)
    }

    @Test func secretsAreRedacted() throws {
        let capture = LogCapture()
        var logger = capture.logger()
        logger[metadataKey: "sasl.password"] = "hunter2"
        logger.info(
            "connecting",
            metadata: [
                "api_token": "tok-123", "clientSecret": "s3cr3t", "device_hash_key": "k3y",
                "kafka": ["ssl.key.pem": "PEM", "bootstrap": "kafka:9092"],
                "user": "alice",
            ])
        let line = try #require(capture.raw.first)
        for secret in ["hunter2", "tok-123", "s3cr3t", "k3y", "PEM"] {
            #expect(!line.contains(secret), "\(secret) leaked")
        }
        let object = try #require(capture.objects.first)
        #expect(object["sasl.password"] as? String == "[REDACTED]")
        #expect(object["api_token"] as? String == "[REDACTED]")
        #expect(object["kafka.ssl.key.pem"] as? String == "[REDACTED]")
        #expect(object["kafka.bootstrap"] as? String == "kafka:9092")
        #expect(object["user"] as? String == "alice")
    }

    @Test func factoryHonoursLevelAndFormat() {
        var settings = LoggingSettings()
        settings.level = "warning"
        settings.format = .json
        #expect(VigilLogging.makeFactory(settings: settings)("a").logLevel == .warning)
        settings.format = .text
        settings.level = "debug"
        #expect(VigilLogging.makeFactory(settings: settings)("a").logLevel == .debug)
    }
}

extension ISO8601DateFormatter {
    fileprivate static var withFractionalSeconds: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
