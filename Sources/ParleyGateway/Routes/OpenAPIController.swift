import Hummingbird
import NIOCore

/// `GET /api/openapi.yaml`: the OpenAPI description of the REST routes, compiled into the binary
/// from `Sources/ParleyGateway/OpenAPI/openapi.yaml`.
struct OpenAPIController {
    static let document = ByteBuffer(bytes: PackageResources.openapi_yaml)

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.get("openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"], body: .init(byteBuffer: Self.document))
        }
    }
}
