import Foundation
import Logging
import ParleyCore
import ParleyIOThread
import ParleyQueue
import ServiceLifecycle

/// Tells the presence worker, through RabbitMQ, which sockets this node holds: a
/// `presence.connect` / `presence.disconnect` per socket and a `presence.heartbeat` every third
/// of the TTL.
///
/// Events are queued here and published in order by ``run()``, so a socket never waits for the
/// broker; an event that cannot be published is retried with backoff (a broker restart delays
/// presence, it does not lose it).
public final class PresenceReporter: Service, Sendable {
    /// This process run's presence id: a restarted node is a new node, so the connections of
    /// its previous run are reaped rather than kept alive by the new heartbeat.
    public let nodeId: String
    private let publisher: QueuePublisher
    private let ttl: Duration
    private let logger: Logger
    private let events: AsyncStream<Command.Payload>
    private let eventsContinuation: AsyncStream<Command.Payload>.Continuation

    public init(publisher: QueuePublisher, node: String, ttl: Duration, logger: Logger) {
        self.publisher = publisher
        self.nodeId = "\(node)~\(UUID().uuidString.prefix(8).lowercased())"
        self.ttl = ttl
        self.logger = logger
        (events, eventsContinuation) = AsyncStream.makeStream(of: Command.Payload.self)
    }

    func connected(userId: UUID, socketId: String, ip: String?, userAgent: String?) {
        eventsContinuation.yield(.presenceConnect(PresenceChange(
            userId: userId, connectionId: connectionId(socketId), nodeId: nodeId, ip: ip, userAgent: userAgent)))
    }

    func disconnected(userId: UUID, socketId: String) {
        eventsContinuation.yield(.presenceDisconnect(PresenceChange(userId: userId, connectionId: connectionId(socketId), nodeId: nodeId)))
    }

    public func run() async throws {
        let ttlSeconds = Int(ttl.components.seconds)
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    self.eventsContinuation.yield(.presenceHeartbeat(NodeHeartbeat(nodeId: self.nodeId, ttlSeconds: ttlSeconds)))
                    try? await Task.sleep(for: self.ttl / 3)
                }
            }
            await cancelWhenGracefulShutdown {
                for await payload in self.events {
                    await self.publish(payload)
                }
            }
            group.cancelAll()
        }
    }

    private func connectionId(_ socketId: String) -> String { "\(nodeId)/\(socketId)" }

    private func publish(_ payload: Command.Payload) async {
        let command = Command(replyTo: nil, payload: payload)
        guard let body = try? JSON.encode(command) else { return }
        var backoff = Backoff()
        // A heartbeat older than the TTL is worthless; a connect or disconnect is retried for as
        // long as the node runs (a lost disconnect would leave a ghost while the node lives).
        let deadline = command.type == .presenceHeartbeat ? ContinuousClock.now + ttl : nil
        while !Task.isCancelled {
            do {
                try await publisher.publish([UInt8](body), routingKey: command.type.rawValue, messageId: command.id.uppercased)
                return
            } catch {
                if let deadline, ContinuousClock.now > deadline {
                    logger.warning("dropping presence event", metadata: ["type": "\(command.type.rawValue)", "error": "\(error)"])
                    return
                }
                try? await Task.sleep(for: backoff.next())
            }
        }
    }
}
