import Hummingbird
import NIOCore
import ParleyPubSub
import ParleyQueue
import ParleyStore
import Prometheus

/// `/healthz`, `/readyz` and `/metrics`.
struct OperationsController {
    let database: Database
    let redis: RedisClient
    let publisher: QueuePublisher
    let metrics: PrometheusCollectorRegistry

    struct Readiness: Encodable {
        var status: String
        var checks: [String: Bool]
    }

    func addRoutes(to router: Router<GatewayContext>) {
        router.get("healthz") { _, _ in JSONResponse.make(status: .ok, body: ["status": "ok"]) }
        router.get("readyz", use: ready)
        router.get("metrics", use: exposition)
    }

    /// 200 when PostgreSQL, Redis and RabbitMQ all answer within two seconds, 503 otherwise.
    @Sendable func ready(_ request: Request, context: GatewayContext) async throws -> Response {
        async let postgres = database.ping(timeout: .seconds(2))
        async let redisUp = Self.redisAnswers(redis)
        let checks = ["postgres": await postgres, "redis": await redisUp, "rabbitmq": publisher.isConnected]
        let ok = checks.values.allSatisfy { $0 }
        var response = JSONResponse.make(
            status: ok ? .ok : .serviceUnavailable, body: Readiness(status: ok ? "ok" : "unavailable", checks: checks))
        if !ok { response.headers[.retryAfter] = "1" }
        return response
    }

    @Sendable func exposition(_ request: Request, context: GatewayContext) async throws -> Response {
        var buffer: [UInt8] = []
        metrics.emit(into: &buffer)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }

    private static func redisAnswers(_ redis: RedisClient) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await redis.command(["PING"]))?.text == "PONG" }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return false
            }
            defer { group.cancelAll() }
            return await group.next() ?? false
        }
    }
}
