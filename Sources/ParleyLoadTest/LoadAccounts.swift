import Foundation

/// The users and chats of a load test: users are signed up once and reused from a state file
/// (signing up hashes a password, which would dominate short runs); chats are made per run.
struct LoadAccounts {
    struct Account: Codable, Sendable {
        let id: String
        let email: String
        var token: String
    }

    struct Chat: Sendable {
        let id: String
        /// Indexes into the accounts.
        let members: [Int]
    }

    static let password = "load-test-password"

    let client: LoadClient
    let base: String
    let statePath: String
    let log: @Sendable (String) -> Void

    /// `count` users that can sign in at `base`: those saved in the state file that still work,
    /// then new ones.
    func users(_ count: Int) async throws -> [Account] {
        let saved = (try? JSONDecoder().decode([Account].self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))) ?? []
        let candidates = Array(saved.prefix(count))
        var accounts = try await concurrently(candidates.count) { i in try await self.revive(candidates[i]) }.compactMap { $0 }
        let missing = count - accounts.count
        if missing > 0 {
            log("signing up \(missing) users (saved in \(statePath) for the next runs)")
            accounts += try await concurrently(missing) { _ in try await self.signup() }
        }
        let all = accounts + saved.filter { old in !accounts.contains { $0.email == old.email } }
        try? FileManager.default.createDirectory(atPath: (statePath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try JSONEncoder().encode(all).write(to: URL(fileURLWithPath: statePath))
        return accounts
    }

    /// A saved user whose token still works, or who signs in again; nil when the user is gone
    /// (another database).
    private func revive(_ account: Account) async throws -> Account? {
        let (status, _) = try await client.json(base, "GET", "/api/users/me", token: account.token)
        if status == 200 { return account }
        let (signin, body) = try await client.json(base, "POST", "/api/auth/signin", body: ["email": account.email, "password": Self.password])
        guard signin == 200, let token = body["token"] as? String else { return nil }
        var renewed = account
        renewed.token = token
        return renewed
    }

    private func signup() async throws -> Account {
        let email = "load-\(UUID().uuidString.prefix(12).lowercased())@load.parley.dev"
        let (status, body) = try await client.json(base, "POST", "/api/auth/signup", body: [
            "firstName": "Load", "lastName": "Tester", "email": email, "password": Self.password])
        guard status == 201, let token = body["token"] as? String, let id = (body["user"] as? [String: Any])?["id"] as? String else {
            throw LoadClient.Failure(status: status, body: "\(body)")
        }
        return Account(id: id, email: email, token: token)
    }

    /// Chats of `size` members over consecutive users (1:1 for 2, groups beyond); users left over
    /// hold connections without chatting.
    func chats(of accounts: [Account], size: Int) async throws -> [Chat] {
        let groups = stride(from: 0, to: accounts.count - size + 1, by: size).map { Array($0..<($0 + size)) }
        return try await concurrently(groups.count) { i in
            let members = groups[i]
            let creator = accounts[members[0]]
            let (status, body): (Int, [String: Any])
            if size == 2 {
                (status, body) = try await client.json(base, "POST", "/api/chats", token: creator.token, body: ["userId": accounts[members[1]].id])
            } else {
                (status, body) = try await client.json(base, "POST", "/api/chats/group", token: creator.token, body: [
                    "chatName": "load \(i)", "users": members.dropFirst().map { accounts[$0].id }])
            }
            guard (200...201).contains(status), let id = (body["data"] as? [String: Any])?["id"] as? String else {
                throw LoadClient.Failure(status: status, body: "\(body)")
            }
            return Chat(id: id, members: members)
        }
    }
}

/// Tokens of `count` users who can sign in at `base`: signed up once and reused from
/// `statePath`, as a load test's (for benchmarks that need accounts but no chats).
public func loadTestUserTokens(_ count: Int, at base: String, statePath: String) async throws -> [String] {
    try await LoadAccounts(client: LoadClient(), base: base, statePath: statePath, log: { _ in }).users(count).map(\.token)
}

/// Runs `body` for 0..<count, at most `width` at once; the results in order.
public func concurrently<T: Sendable>(
    _ count: Int, width: Int = 32, _ body: @escaping @Sendable (Int) async throws -> T
) async throws -> [T] {
    try await withThrowingTaskGroup(of: (Int, T).self) { group in
        var results = [T?](repeating: nil, count: count)
        var next = 0
        while next < min(width, count) {
            let i = next
            group.addTask { (i, try await body(i)) }
            next += 1
        }
        while let (i, value) = try await group.next() {
            results[i] = value
            if next < count {
                let j = next
                group.addTask { (j, try await body(j)) }
                next += 1
            }
        }
        return results.map { $0! }
    }
}
