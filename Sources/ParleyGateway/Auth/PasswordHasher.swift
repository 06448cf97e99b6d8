import HummingbirdBcrypt
import NIOPosix

/// bcrypt on a thread pool: a hash takes tens to hundreds of milliseconds and must never run on
/// an event loop or the cooperative pool.
public struct PasswordHasher: Sendable {
    public let cost: UInt8
    private let pool: NIOThreadPool
    /// Checked when the email is unknown, so that an unknown email takes as long as a wrong password.
    private let decoy: String

    public init(cost: Int, pool: NIOThreadPool = .singleton) {
        self.cost = UInt8(cost)
        self.pool = pool
        self.decoy = Bcrypt.hash("parley-decoy-password", cost: UInt8(cost))
    }

    public func hash(_ password: String) async throws -> String {
        let cost = cost
        return try await pool.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash`; with `hash` nil, spends the same time and says no.
    public func verify(_ password: String, against hash: String?) async throws -> Bool {
        let decoy = decoy
        return try await pool.runIfActive {
            let matches = Bcrypt.verify(password, hash: hash ?? decoy)
            return hash != nil && matches
        }
    }
}
