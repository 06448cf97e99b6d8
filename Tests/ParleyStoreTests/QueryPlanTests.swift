import ParleyCore
@testable import ParleyStore
import ParleyTestSupport
import PostgresNIO
import Synchronization
import XCTest

/// The list queries are served by indexes on a realistic spread of data: 20,000 messages in 200
/// chats of one user, analysed, all in a transaction that is rolled back.
final class QueryPlanTests: XCTestCase {
    private struct Rollback: Error {}

    /// The plans PostgreSQL chooses for `queries` (given the seeded viewer and one of its chats).
    private static func plans(on database: Database, _ queries: @escaping @Sendable (_ viewer: UUID, _ chatId: UUID) -> [PostgresQuery]) async throws -> [String] {
        let logger = database.logger
        let viewer = UUIDv7.make()
        let chatIds = (0..<200).map { _ in UUIDv7.make() }
        let found = ResultBox()
        do {
            try await database.client.withTransaction(logger: logger) { connection in
                try await connection.query(
                    """
                    INSERT INTO users (id, first_name, last_name, email, password_hash)
                    VALUES (\(viewer), 'Plan', 'Viewer', \(TestServices.uniqueEmail("plan")), 'x')
                    """, logger: logger)
                try await connection.query(
                    "INSERT INTO chats (id, chat_name, is_group, group_admin_id) SELECT unnest(\(chatIds)), 'g', true, \(viewer)", logger: logger)
                try await connection.query(
                    "INSERT INTO chat_members (chat_id, user_id) SELECT unnest(\(chatIds)), \(viewer)", logger: logger)
                try await connection.query(
                    """
                    INSERT INTO messages (id, chat_id, sender_id, message_type, text)
                    SELECT gen_random_uuid(), (\(chatIds))[1 + g % 200], \(viewer), 'text', 'm' FROM generate_series(1, 20000) g
                    """, logger: logger)
                try await connection.query("ANALYZE users, chats, chat_members, messages", logger: logger)
                for query in queries(viewer, chatIds[7]) {
                    let rows = try await connection.query(PostgresQuery(unsafeSQL: "EXPLAIN " + query.sql, binds: query.binds), logger: logger)
                    var lines: [String] = []
                    for try await line in rows.decode(String.self) { lines.append(line) }
                    found.append(lines.joined(separator: "\n"))
                }
                throw Rollback()
            }
        } catch let error as PostgresTransactionError where error.closureError is Rollback {}
        return found.values
    }

    func testHistoryPagesUseTheChatIdIndex() async throws {
        try await TestServices.withDatabase { database in
            let plans = try await Self.plans(on: database) { viewer, chatId in
                [(nil, nil), (UUIDv7.make(), nil), (nil, UUIDv7.make())].map { (before: UUID?, after: UUID?) in
                    MessageRepository.historyQuery(chatId: chatId, viewer: viewer, before: before, after: after, limit: 50)
                }
            }
            XCTAssertEqual(plans.count, 3)
            for plan in plans {
                XCTAssertTrue(plan.contains("messages_chat_id_idx"), plan)
                XCTAssertFalse(plan.contains("Seq Scan on messages"), plan)
            }
        }
    }

    func testPresenceAudienceIsOneQueryOnTheMembershipIndexes() async throws {
        try await TestServices.withDatabase { database in
            let plans = try await Self.plans(on: database) { viewer, _ in [UserRepository.audienceQuery(of: viewer)] }
            let plan = try XCTUnwrap(plans.first)
            XCTAssertTrue(plan.contains("chat_members_user_idx"), plan)
            XCTAssertTrue(plan.contains("chat_members_pkey"), plan)
            XCTAssertFalse(plan.contains("Seq Scan on chat_members"), plan)
        }
    }

    func testChatListUsesMembershipAndMessageIndexes() async throws {
        try await TestServices.withDatabase { database in
            let plans = try await Self.plans(on: database) { viewer, _ in
                [ChatRepository.listQuery(viewer: viewer, before: .init(activity: .max, chatId: ChatRepository.zero), limit: 200)]
            }
            let plan = try XCTUnwrap(plans.first)
            XCTAssertTrue(plan.contains("chat_members_user_idx"), plan)
            XCTAssertTrue(plan.contains("messages_chat_id_idx"), plan)
            XCTAssertFalse(plan.contains("Seq Scan on messages"), plan)
        }
    }
}

/// Plans collected inside the transaction's closure.
private final class ResultBox: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ value: String) { storage.withLock { $0.append(value) } }
    var values: [String] { storage.withLock { $0 } }
}
