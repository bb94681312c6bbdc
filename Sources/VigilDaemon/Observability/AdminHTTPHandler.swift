import NIOCore
import NIOHTTP1
import Prometheus

/// Answers one request at a time from the status snapshot and the metrics registry, and the Shared
/// Signals transmitter's endpoints when it is configured (`SignalEndpoints`)
/// (`HTTPServerPipelineHandler` in front of it serialises pipelined requests). Bodies are refused,
/// except a small JSON body for the stream management requests that take one.
final class AdminHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    typealias Status = HTTPResponseStatus

    struct Response {
        var status: HTTPResponseStatus
        var body: String
        var contentType = "text/plain; charset=utf-8"
        var headers: [(String, String)] = []
    }

    /// The Prometheus text exposition format the registry writes.
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    private let status: DaemonStatus
    private let registry: PrometheusCollectorRegistry
    private let signals: SignalEndpoints?
    /// The head of the request being read, until its end arrives; nil after an early rejection.
    private var pending: HTTPRequestHead?
    /// The body of the request being read (only requests that take one get this far with one).
    private var body: [UInt8] = []

    init(status: DaemonStatus, registry: PrometheusCollectorRegistry, signals: SignalEndpoints? = nil) {
        self.status = status
        self.registry = registry
        self.signals = signals
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            body.removeAll()
            let path = head.uri.prefix { $0 != "?" }
            let lengths = head.headers["content-length"]
            let takesBody = signals != nil && SignalEndpoints.acceptsBody(method: head.method.rawValue, path: path)
            let bodyLimit = takesBody ? SignalEndpoints.maxBodyBytes : 0
            if head.headers.contains(name: "transfer-encoding")
                || lengths.contains(where: { Int($0).map { $0 > bodyLimit || $0 < 0 } ?? true })
            {
                pending = nil
                respond(
                    context, to: head,
                    Response(
                        status: .payloadTooLarge,
                        body: takesBody
                            ? "a body of at most \(bodyLimit) bytes with content-length is accepted\n"
                            : "request bodies are not accepted\n"),
                    close: true)
            } else {
                pending = head
            }
        case .body(var buffer):
            guard pending != nil else { return }
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head = pending else { return }
            pending = nil
            respond(context, to: head, route(head), close: !head.isKeepAlive)
            body.removeAll()
        }
    }

    /// Malformed requests reach here after `HTTPServerProtocolErrorHandler` has answered 400; the
    /// parser cannot continue, so the connection goes.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private static let paths: Set<Substring> = ["/metrics", "/healthz", "/readyz"]

    private func route(_ head: HTTPRequestHead) -> Response {
        let path = head.uri.prefix { $0 != "?" }
        if let signals, signals.handles(path) {
            let query = head.uri.drop { $0 != "?" }.dropFirst()
            return signals.respond(
                method: head.method.rawValue, path: path, query: query,
                authorization: head.headers["authorization"].first, body: body)
        }
        guard Self.paths.contains(path) else {
            return Response(status: .notFound, body: "not found: try /metrics, /healthz or /readyz\n")
        }
        guard head.method == .GET || head.method == .HEAD else {
            return Response(status: .methodNotAllowed, body: "method not allowed\n", headers: [("allow", "GET, HEAD")])
        }
        switch path {
        case "/metrics":
            return Response(status: .ok, body: registry.emitToString(), contentType: Self.metricsContentType)
        case "/readyz":
            let snapshot = status.snapshot
            return snapshot.ready
                ? Response(status: .ok, body: "ready\n")
                : Response(status: .serviceUnavailable, body: "not ready: \(snapshot.notReadyReason ?? "unknown")\n")
        default:
            return Response(status: .ok, body: "ok\n")
        }
    }

    private func respond(_ context: ChannelHandlerContext, to head: HTTPRequestHead, _ response: Response, close: Bool)
    {
        let body = context.channel.allocator.buffer(string: response.body)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: response.contentType)
        headers.add(name: "content-length", value: String(body.readableBytes))
        headers.add(name: "cache-control", value: "no-store")
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        if close { headers.add(name: "connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))),
            promise: nil)
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close {
            written.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
        }
    }
}

/// Sits in front of the HTTP decoder and bounds the bytes of one request head: NIO's own parser
/// allows 80 KB of headers, too generous for an admin port. The count restarts when a response goes
/// out, so keep-alive scrapes are unaffected. Also closes the connection when `IdleStateHandler`
/// reports it idle.
final class RequestSizeGuard: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let limit: Int
    private var received = 0
    private var rejected = false

    init(limit: Int) { self.limit = limit }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !rejected else { return }
        received += unwrapInboundIn(data).readableBytes
        guard received <= limit else {
            rejected = true
            let response = context.channel.allocator.buffer(
                string: "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(response))).whenComplete {
                [channel = context.channel] _ in
                channel.close(promise: nil)
            }
            return
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        received = 0
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
