import Foundation
import Logging
import Synchronization

@testable import VigilDaemon

/// Collects what a JSONLogHandler writes, one parsed object per line.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var raw: [String] { lines.withLock { $0 } }

    var objects: [[String: Any]] {
        raw.map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    func logger(_ label: String = "vigil.test", level: Logger.Level = .trace) -> Logger {
        Logger(label: label) { label in
            RedactingLogHandler(
                JSONLogHandler(label: label, level: level) { bytes in
                    self.lines.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) }
                })
        }
    }

    func messages(at level: String? = nil) -> [String] {
        objects.filter { level == nil || $0["level"] as? String == level }.compactMap { $0["msg"] as? String }
    }
}
