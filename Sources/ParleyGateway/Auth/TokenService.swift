import Foundation
import JWTKit
import ParleyCore

/// Issues and checks the HS256 JWTs clients send as `Authorization: Bearer`.
///
/// The algorithm is pinned: only HS256 with Parley's secret verifies, so `alg: none` or a token
/// signed with anything else is rejected.
public struct TokenService: Sendable {
    private let keys: JWTKeyCollection
    private let expiry: Duration

    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var iat: IssuedAtClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    /// - Parameters:
    ///   - secret: the HMAC key.
    ///   - expiry: how long a token is valid.
    public init(secret: String, expiry: Duration) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.expiry = expiry
    }

    /// A signed token for `userId`.
    public func issue(for userId: UUID, now: Date = Date()) async throws -> String {
        // NumericDate in whole seconds: some clients' JWT libraries reject fractions.
        let now = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        let claims = Claims(
            sub: SubjectClaim(value: userId.lowercased),
            exp: ExpirationClaim(value: now.addingTimeInterval(Double(expiry.components.seconds))),
            iat: IssuedAtClaim(value: now)
        )
        return try await keys.sign(claims, header: ["typ": "JWT"])
    }

    /// The user id a valid token names, or `nil` for any token that is malformed, forged,
    /// expired or not HS256.
    public func verify(_ token: String) async -> UUID? {
        guard let claims = try? await keys.verify(token, as: Claims.self) else { return nil }
        return UUID(text: claims.sub.value)
    }
}
