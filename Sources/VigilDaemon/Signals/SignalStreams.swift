import Crypto
import Foundation
import Synchronization

/// The transmitter's streams, one per receiver of `ssf.receivers`, as the stream management endpoints
/// change them and the push transmitter reads them: each stream's status and the verification events
/// asked for and not sent yet. Shared between the HTTP listener's threads and the push threads.
///
/// Held in memory: a restart enables every stream again (the receivers are in the config file, which
/// stays the source of truth for what is configured; pausing is for an operation in progress).
public final class SignalStreams: Sendable {
    /// What a stream's receiver gets (SSF 1.0 §8.1.2).
    public enum Status: String, Sendable, CaseIterable {
        /// Tokens are pushed.
        case enabled
        /// Tokens wait, nothing is lost: pushing resumes where it stopped.
        case paused
        /// Tokens are skipped (counted) until it is enabled again.
        case disabled
    }

    /// One stream.
    public struct Stream: Sendable, Equatable {
        /// Stable across restarts and instances: derived from the receiver's URL.
        public var id: String
        /// The receiver.
        public var receiver: SignalReceiver
        /// What it gets now.
        public var status: Status
        /// Why the status was last set, as the operator said.
        public var reason: String?
    }

    private struct State {
        var streams: [Stream]
        /// Verification `state` values asked for, per stream id, oldest first.
        var verifications: [String: [String?]] = [:]
    }

    private let state: Mutex<State>

    /// Every receiver's stream, enabled.
    public init(receivers: [SignalReceiver]) {
        state = Mutex(
            State(streams: receivers.map { Stream(id: Self.streamID($0.url), receiver: $0, status: .enabled) }))
    }

    /// The stream id of a receiver URL: the first 128 bits of its SHA-256, in hex.
    static func streamID(_ url: String) -> String {
        SHA256.hash(data: Array(url.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// Every stream, in configuration order.
    public var streams: [Stream] { state.withLock { $0.streams } }

    /// The stream `id`, or nil.
    public func stream(_ id: String) -> Stream? { state.withLock { $0.streams.first { $0.id == id } } }

    /// Sets a stream's status; nil when there is no such stream.
    @discardableResult
    public func setStatus(_ status: Status, reason: String?, of id: String) -> Stream? {
        state.withLock { state in
            guard let index = state.streams.firstIndex(where: { $0.id == id }) else { return nil }
            state.streams[index].status = status
            state.streams[index].reason = reason
            return state.streams[index]
        }
    }

    /// Asks for a verification event on stream `id` carrying `verificationState`; false when there is no
    /// such stream.
    public func requestVerification(of id: String, state verificationState: String?) -> Bool {
        state.withLock { state in
            guard state.streams.contains(where: { $0.id == id }) else { return false }
            state.verifications[id, default: []].append(verificationState)
            return true
        }
    }

    /// The verification events asked for on stream `id` since the last call, oldest first.
    func takeVerifications(of id: String) -> [String?] {
        state.withLock { $0.verifications.removeValue(forKey: id) ?? [] }
    }
}
