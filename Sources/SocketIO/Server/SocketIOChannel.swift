import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket

extension HTTPServerBuilder {
    /// HTTP/1.1 for the application's routes, and WebSocket upgrades on the paths of `servers`,
    /// which then run on NIO handlers alone: an idle Socket.IO connection holds no task.
    public static func socketIO(_ servers: [SocketIOServer], configuration: HTTP1Channel.Configuration = .init()) -> HTTPServerBuilder {
        .init { responder in SocketIOChannel(responder: responder, servers: servers, configuration: configuration) }
    }
}

/// The child channel of ``HTTPServerBuilder/socketIO(_:configuration:)``: what Hummingbird's
/// HTTP/1 channel with WebSocket upgrade does, except that an upgraded connection is handed to
/// an ``EngineWebSocketHandler`` and its task ends.
struct SocketIOChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        case webSocket
        case notUpgraded(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case failedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    struct NoServerForUpgrade: Error {}

    let responder: HTTPChannelHandler.Responder
    let servers: [SocketIOServer]
    let configuration: HTTP1Channel.Configuration

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let upgradeAttempted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: servers.map(\.configuration.maxPayload).max() ?? (1 << 20),
                shouldUpgrade: { channel, head in
                    upgradeAttempted.value = true
                    let accepted = servers.contains { $0.acceptsWebSocket(head) }
                    return channel.eventLoop.makeSucceededFuture(accepted ? HTTPHeaders() : nil)
                },
                upgradePipelineHandler: { channel, head in
                    channel.eventLoop.makeCompletedFuture {
                        guard let handler = try servers.first(where: { $0.acceptsWebSocket(head) })?.webSocketHandler(channel: channel, head: head) else {
                            throw NoServerForUpgrade()
                        }
                        try channel.pipeline.syncOperations.addHandler(handler)
                        return UpgradeResult.webSocket
                    }
                }
            )
            let serverUpgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandlers(configuration.additionalChannelHandlers())
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPConnectionStateHandler(idleTimeout: configuration.idleTimeout.map { .init($0) }, logger: logger))
                        let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        return upgradeAttempted.value ? .failedUpgrade(asyncChannel) : .notUpgraded(asyncChannel)
                    }
                }
            )
            var upgradeConfiguration = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(upgradeConfiguration: serverUpgradeConfiguration)
            // As Hummingbird's own HTTP/1 channel: it pipelines and handles errors itself.
            upgradeConfiguration.enablePipelining = false
            upgradeConfiguration.enableErrorHandling = false
            upgradeConfiguration.enableResponseHeaderValidation = false
            upgradeConfiguration.decoderConfiguration.maxHeaderFieldSize = configuration.httpDecoder.maxHeaderFieldSize
            upgradeConfiguration.decoderConfiguration.maxHeaderListSize = configuration.httpDecoder.maxHeaderListSize
            upgradeConfiguration.decoderConfiguration.maxHeaderFieldCount = configuration.httpDecoder.maxHeaderFieldCount
            let upgradeResult = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: upgradeConfiguration)
            return Value(upgradeResult: upgradeResult, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .webSocket:
                // The connection lives on in its handlers.
                return
            case .notUpgraded(let http1):
                await handleHTTP(asyncChannel: http1, logger: logger)
            case .failedUpgrade(let http1):
                await refuseUpgrade(http1)
            }
        } catch {
            logger.debug("connection ended before its first request", metadata: ["error": "\(error)"])
        }
    }

    /// 400 for a WebSocket handshake nobody takes (wrong path, protocol or session).
    private func refuseUpgrade(_ http1: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>) async {
        try? await http1.executeThenClose { _, outbound in
            try await outbound.write(contentsOf: [
                .head(HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])), .end(nil),
            ])
        }
    }
}
