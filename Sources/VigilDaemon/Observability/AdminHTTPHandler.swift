import NIOCore
import NIOHTTP1
import Prometheus

/// Answers one request at a time from the status snapshot and the metrics registry
/// (`HTTPServerPipelineHandler` in front of it serialises pipelined requests). Bodies are refused
/// outright: nothing on an admin port needs one.
final class AdminHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

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
    /// The head of the request being read, until its end arrives; nil after an early rejection.
    private var pending: HTTPRequestHead?

    init(status: DaemonStatus, registry: PrometheusCollectorRegistry) {
        self.status = status
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if head.headers.contains(name: "transfer-encoding")
                || head.headers["content-length"].contains(where: { $0 != "0" })
            {
                pending = nil
                respond(
                    context, to: head, Response(status: .payloadTooLarge, body: "request bodies are not accepted\n"),
                    close: true)
            } else {
                pending = head
            }
        case .body:
            break
        case .end:
            guard let head = pending else { return }
            pending = nil
            respond(context, to: head, route(head), close: !head.isKeepAlive)
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
