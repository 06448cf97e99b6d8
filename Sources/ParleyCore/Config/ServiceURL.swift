import Foundation

/// A parsed `scheme://user:password@host:port/path` URL of a backing service.
public struct ServiceURL: Sendable, Equatable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    public let port: Int?
    public let user: String?
    public let password: String?
    /// The path without its leading slash, percent-decoded (a database name, an AMQP vhost).
    public let path: String

    public init?(_ string: String) {
        guard let components = URLComponents(string: string),
              let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty
        else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = components.port
        self.user = components.user
        self.password = components.password
        self.path = String(components.path.drop { $0 == "/" }).removingPercentEncoding ?? ""
    }

    /// The URL with its password masked, safe for logs.
    public var description: String {
        let auth = user.map { "\($0)\(password == nil ? "" : ":***")@" } ?? ""
        return "\(scheme)://\(auth)\(host)\(port.map { ":\($0)" } ?? "")/\(path)"
    }
}
