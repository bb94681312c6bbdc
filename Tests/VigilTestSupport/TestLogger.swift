import Foundation
import Logging

/// The logger handed to code under test: quiet by default, because expected failures (broker-down
/// chatter, refused configs) are not news. `VIGIL_TEST_LOG_LEVEL=debug` shows them when a test needs
/// explaining.
public let testLogger: Logger = {
    var logger = Logger(label: "vigil.tests")
    logger.logLevel =
        ProcessInfo.processInfo.environment["VIGIL_TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
    return logger
}()
