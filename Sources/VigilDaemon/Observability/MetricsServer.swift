import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import VigilCore

/// The admin HTTP port: `GET /metrics` (Prometheus), `GET /healthz` (liveness), `GET /readyz` (readiness). A small
/// swift-nio HTTP/1.1 server that answers from the metrics registry and `DaemonStatus.snapshot`, so a scrape never
/// touches the Kafka thread. It accepts no request bodies but the stream management's small JSON ones, bounds the
/// request (`Limits.maxRequestBytes`) and closes idle connections (`Limits.idleTimeout`). With Shared Signals
/// configured it also serves the transmitter's endpoints (`SignalEndpoints`).
///
/// Runs until graceful shutdown or cancellation, then closes the listener. With `http.enabled: false`
/// it binds nothing and just waits for shutdown, so the service group's shape does not depend on it.
public struct MetricsServer: Service {
    /// Fixed bounds for an admin port: a scrape request is a few hundred bytes.
    public enum Limits {
        /// Request line plus headers, per request; larger requests get 431 and the connection closes.
        public static let maxRequestBytes = 8 * 1024
        /// A connection that sends nothing for this long is closed (Prometheus reconnects).
        public static let idleTimeout = TimeAmount.seconds(10)
    }

    private let settings: HTTPSettings
    private let status: DaemonStatus
    private let registry: PrometheusCollectorRegistry
    private let logger: Logger
    private let onBound: (@Sendable (SocketAddress) -> Void)?
    private let signals: SignalEndpoints?

    /// `onBound` is called once with the address actually bound: with port 0 in `settings.listen` the
    /// kernel picks a free port, which is how tests find the server.
    public init(
        settings: HTTPSettings, status: DaemonStatus, registry: PrometheusCollectorRegistry, logger: Logger,
        signals: SignalEndpoints? = nil, onBound: (@Sendable (SocketAddress) -> Void)? = nil
    ) {
        self.signals = signals
        self.settings = settings
        self.status = status
        self.registry = registry
        self.logger = logger
        self.onBound = onBound
    }

    /// Serves until cancelled or shut down gracefully; with the endpoint disabled it only waits for that.
    public func run() async throws {
        guard settings.enabled else {
            logger.info("metrics and health endpoint disabled (http.enabled: false)")
            try? await gracefulShutdown()
            return
        }
        let (host, port) = try Self.hostAndPort(settings.listen)
        let status = self.status
        let registry = self.registry
        let signals = self.signals
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(IdleStateHandler(readTimeout: Limits.idleTimeout))
                        try pipeline.addHandler(RequestSizeGuard(limit: Limits.maxRequestBytes))
                        try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                        try pipeline.addHandler(AdminHTTPHandler(status: status, registry: registry, signals: signals))
                    }
                }
                .bind(host: host, port: port)
                .get()
        } catch {
            logger.error(
                "cannot listen for metrics and health", metadata: ["listen": "\(settings.listen)", "error": "\(error)"])
            throw error
        }
        if let address = channel.localAddress {
            if Self.isLoopback(address) {
                logger.info("metrics and health listening", metadata: ["address": "\(address)"])
            } else {
                logger.warning(
                    """
                    metrics and health listening on a non-loopback address: anyone who can reach it can read the \
                    metrics
                    """,
                    metadata: ["address": "\(address)"])
            }
            onBound?(address)
        }
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
        logger.info("metrics and health listener closed")
    }

    /// Splits `host:port` / `[v6]:port`; config validation has already checked the form, this only
    /// strips the brackets NIO does not want.
    static func hostAndPort(_ listen: String) throws -> (String, Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw ListenAddressError(listen: listen)
        }
        var host = listen[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty, (0...65_535).contains(port) else { throw ListenAddressError(listen: listen) }
        return (String(host), port)
    }

    /// The swift-metrics factory whose metrics this server exposes: `registry`, with the daemon's
    /// histogram buckets.
    public static func metricsFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets[DaemonMetrics.Name.processingLatency] = DaemonMetrics.latencyBucketsSeconds
        factory.valueHistogramBuckets[GlobalTableMetrics.propagationDelayName] = GlobalTableMetrics.delayBucketsSeconds
        return factory
    }

    static func isLoopback(_ address: SocketAddress) -> Bool {
        guard let ip = address.ipAddress else { return true }  // a Unix socket is local by nature
        return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }
}

struct ListenAddressError: Error, CustomStringConvertible {
    var listen: String
    var description: String { "http.listen: expected host:port (IPv6 in brackets), got \"\(listen)\"" }
}
