import Hummingbird
import Logging
import NIOCore
import Prometheus

/// `GET /metrics` alone, for worker processes, which serve no other HTTP.
enum MetricsServer {
    static func application(registry: PrometheusCollectorRegistry, host: String, port: Int, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.get("metrics") { _, _ in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "parley-worker"), logger: logger)
    }
}
