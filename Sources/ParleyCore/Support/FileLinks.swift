import Crypto
import Foundation

/// Signed, expiring links to stored files, so that `<img src>` works without a bearer token.
///
/// A link is `/api/files/<id>` or `/api/files/<id>/thumbnail` with `?exp=<unix seconds>&sig=<HMAC>`,
/// the HMAC-SHA256 of the id, the variant and the expiry under a key derived from `JWT_SECRET`
/// (every process that renders or checks links must share it). Expiries are rounded up to the
/// minute, so the links one message gets within a minute are the same and browsers cache them.
public struct FileLinks: Sendable {
    /// Which bytes of a file a link points at.
    public enum Variant: String, Sendable {
        case original = "file"
        case thumbnail
    }

    /// Why a signed link was refused.
    public enum Verdict: Sendable, Equatable {
        case valid
        case expired
        case invalid
    }

    private let key: SymmetricKey
    /// How long a link lives after it is made.
    public let lifetime: Duration

    public init(secret: String, lifetime: Duration) {
        // A key of its own, so that a file signature can never pass for a token's.
        let derived = HMAC<SHA256>.authenticationCode(for: Data("parley file links".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        key = SymmetricKey(data: Data(derived))
        self.lifetime = lifetime
    }

    /// The path of a file's bytes, signed until `lifetime` from `now`.
    public func url(fileId: UUID, variant: Variant, now: Date = Date()) -> String {
        let seconds = Int64(now.timeIntervalSince1970) + lifetime.components.seconds
        let expiry = (seconds + 59) / 60 * 60
        let suffix = variant == .thumbnail ? "/thumbnail" : ""
        return "/api/files/\(fileId.lowercased)\(suffix)?exp=\(expiry)&sig=\(signature(fileId: fileId, variant: variant, expiry: expiry))"
    }

    /// Checks the `exp` and `sig` of a link to `fileId`'s `variant`.
    public func verify(fileId: UUID, variant: Variant, expiry: String, signature given: String, now: Date = Date()) -> Verdict {
        guard let expiry = Int64(expiry), let mac = Base64URL.decode(given) else { return .invalid }
        let expected = HMAC<SHA256>.authenticationCode(for: Self.message(fileId, variant, expiry), using: key)
        // Constant-time comparison: the signature is a secret until it matches.
        guard expected == mac else { return .invalid }
        return Int64(now.timeIntervalSince1970) < expiry ? .valid : .expired
    }

    private func signature(fileId: UUID, variant: Variant, expiry: Int64) -> String {
        Base64URL.encode(Data(HMAC<SHA256>.authenticationCode(for: Self.message(fileId, variant, expiry), using: key)))
    }

    private static func message(_ fileId: UUID, _ variant: Variant, _ expiry: Int64) -> Data {
        Data("\(fileId.lowercased):\(variant.rawValue):\(expiry)".utf8)
    }
}

/// URL-safe base64 without padding (RFC 4648 §5).
enum Base64URL {
    static func encode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ string: String) -> Data? {
        guard string.utf8.count <= 128, string.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else { return nil }
        var base64 = string.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}

private extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
