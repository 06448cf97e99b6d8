import Foundation
import Hummingbird
import ParleyGateway
import ParleyTestSupport
import XCTest

/// `openapi.yaml` is a valid OpenAPI document, is served, and describes exactly the routes the
/// gateway registers.
final class OpenAPITests: XCTestCase {
    static let specURL = TestServices.root.appendingPathComponent("Sources/ParleyGateway/OpenAPI/openapi.yaml")

    /// `METHOD /path/{}` for every operation under `paths:`, read from the document's layout
    /// (two spaces before a path, four before a method).
    static func documentedRoutes(_ yaml: String) -> Set<String> {
        var routes = Set<String>()
        var path: String?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("components:") { break }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     ") {
                let method = line.dropFirst(4).prefix { $0 != ":" }
                if ["get", "put", "post", "delete", "patch"].contains(method) {
                    routes.insert("\(method.uppercased()) \(normalized(path))")
                }
            }
        }
        return routes
    }

    /// Parameter names differ between the router (`:id`) and the document (`{chatId}`); their
    /// places must agree.
    static func normalized(_ path: String) -> String {
        let parts = path.split(separator: "/").map { part in
            part.hasPrefix(":") || part.hasPrefix("{") ? "{}" : String(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    func testDocumentAndRouterAgreeOnEveryRoute() async throws {
        let yaml = try String(contentsOf: Self.specURL, encoding: .utf8)
        let documented = Self.documentedRoutes(yaml)
        XCTAssertGreaterThan(documented.count, 20, "the document's layout is not what this test reads")
        try await GatewayRig.run { rig in
            let registered = Set(Gateway.router(rig.dependencies).routes.map { "\($0.method.rawValue) \(Self.normalized("\($0.path)"))" })
            XCTAssertEqual(registered.subtracting(documented).sorted(), [], "registered but not in openapi.yaml")
            XCTAssertEqual(documented.subtracting(registered).sorted(), [], "in openapi.yaml but not registered")
        }
    }

    func testDocumentIsValidOpenAPI() async throws {
        let (status, output) = try await runProcess(try TestServices.python(), ["-m", "openapi_spec_validator", Self.specURL.path])
        XCTAssertEqual(status, 0, output)
    }

    func testDocumentIsServedAsWritten() async throws {
        let onDisk = try Data(contentsOf: Self.specURL)
        try await GatewayRig.run { rig in
            let reply = try await rig.request(.get, "/api/openapi.yaml")
            XCTAssertEqual(reply.status, .ok)
            XCTAssertEqual(reply.headers[.contentType], "application/yaml; charset=utf-8")
            XCTAssertEqual(reply.body, onDisk)
        }
    }
}
