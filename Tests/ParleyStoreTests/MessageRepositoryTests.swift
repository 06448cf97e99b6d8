import ParleyCore
@testable import ParleyStore
import ParleyTestSupport
import PostgresNIO
import XCTest

final class MessageRepositoryTests: XCTestCase {
    struct Pair: Sendable {
        let a: User
        let b: User
        let chatId: UUID
    }

    static func pair(_ database: Database) async throws -> Pair {
        let a = try await TestServices.makeUser(database, name: "A")
        let b = try await TestServices.makeUser(database, name: "B")
        let (id, _) = try await database.chats.createDirect(chatId: UUIDv7.make(), between: a.id, and: b.id)
        return Pair(a: a, b: b, chatId: id)
    }

    static func count(_ database: Database, sender: UUID) async throws -> Int {
        let rows = try await database.client.query("SELECT count(*) FROM messages WHERE sender_id = \(sender)", logger: TestServices.logger("t"))
        for try await n in rows.decode(Int.self) { return n }
        return -1
    }

    func testRedeliveredCommandIsStoredOnce() async throws {
        try await TestServices.withDatabase { database in
            let p = try await Self.pair(database)
            let command = MessageCreate(messageId: UUIDv7.make(), chatId: p.chatId, senderId: p.a.id, messageType: .text, text: "hi", clientMessageId: nil)
            guard case .created(let first) = try await database.messages.create(command) else { return XCTFail("not created") }
            guard case .existing(let again) = try await database.messages.create(command) else { return XCTFail("stored twice") }
            XCTAssertEqual(first, again)
            XCTAssertEqual(first.content.text, "hi")
            XCTAssertEqual(first.sender.id, p.a.id)
            let stored = try await Self.count(database, sender: p.a.id)
            XCTAssertEqual(stored, 1)
        }
    }

    func testConcurrentRetriesWithOneClientMessageIdStoreOneMessage() async throws {
        try await TestServices.withDatabase { database in
            let p = try await Self.pair(database)
            // A client retrying: every attempt gets a new command (and message id) from the gateway.
            let outcomes = try await withThrowingTaskGroup(of: MessageRepository.CreateOutcome.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        try await database.messages.create(MessageCreate(
                            messageId: UUIDv7.make(), chatId: p.chatId, senderId: p.a.id, messageType: .text,
                            text: "once", clientMessageId: "retry-key"))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let ids = Set(outcomes.compactMap { outcome -> UUID? in
                switch outcome {
                case .created(let m), .existing(let m): m.id
                case .notMember: nil
                }
            })
            XCTAssertEqual(ids.count, 1)
            XCTAssertEqual(outcomes.filter { if case .created = $0 { true } else { false } }.count, 1)
            let stored = try await Self.count(database, sender: p.a.id)
            XCTAssertEqual(stored, 1)
        }
    }

    func testStrangerCannotPost() async throws {
        try await TestServices.withDatabase { database in
            let p = try await Self.pair(database)
            let stranger = try await TestServices.makeUser(database)
            let outcome = try await database.messages.create(MessageCreate(
                messageId: UUIDv7.make(), chatId: p.chatId, senderId: stranger.id, messageType: .text, text: "x", clientMessageId: nil))
            XCTAssertEqual(outcome, .notMember)
            let stored = try await Self.count(database, sender: stranger.id)
            XCTAssertEqual(stored, 0)
        }
    }

    func testHistoryPagesBackwardAndForwardWithoutGapsOrDuplicates() async throws {
        try await TestServices.withDatabase { database in
            let p = try await Self.pair(database)
            var sent: [UUID] = []
            for i in 0..<25 {
                let command = MessageCreate(messageId: UUIDv7.make(), chatId: p.chatId, senderId: i.isMultiple(of: 2) ? p.a.id : p.b.id,
                                            messageType: .text, text: "m\(i)", clientMessageId: nil)
                _ = try await database.messages.create(command)
                sent.append(command.messageId)
            }
            // Backward from the newest, 10 at a time.
            var seen: [UUID] = []
            var before: UUID?
            repeat {
                let page = try await database.messages.history(chatId: p.chatId, viewer: p.a.id, before: before, after: nil, limit: 10)
                XCTAssertEqual(page.map(\.id), page.map(\.id).sorted { $0.lowercased < $1.lowercased }, "oldest first within a page")
                seen.insert(contentsOf: page.map(\.id), at: 0)
                before = page.count == 10 ? page.first?.id : nil
            } while before != nil
            XCTAssertEqual(seen, sent)

            // Forward from the fifth.
            let after = try await database.messages.history(chatId: p.chatId, viewer: p.a.id, before: nil, after: sent[4], limit: 200)
            XCTAssertEqual(after.map(\.id), Array(sent[5...]))
        }
    }

    func testPagingWhileMessagesKeepArrivingMissesAndRepeatsNothing() async throws {
        try await TestServices.withDatabase { database in
            let p = try await Self.pair(database)
            @Sendable func send(_ text: String) async throws -> UUID {
                let command = MessageCreate(messageId: UUIDv7.make(), chatId: p.chatId, senderId: p.b.id,
                                            messageType: .text, text: text, clientMessageId: nil)
                _ = try await database.messages.create(command)
                return command.messageId
            }
            var before: [UUID] = []
            for i in 0..<30 { before.append(try await send("old \(i)")) }

            // A writer keeps sending while the reader pages back through history, then forward.
            let writer = Task {
                var arrived: [UUID] = []
                for i in 0..<30 { arrived.append(try await send("new \(i)")) }
                return arrived
            }
            let first = try await database.messages.history(chatId: p.chatId, viewer: p.a.id, before: nil, after: nil, limit: 7)
            var older: [UUID] = first.map(\.id)
            var cursor = first.first?.id
            while let c = cursor {
                let page = try await database.messages.history(chatId: p.chatId, viewer: p.a.id, before: c, after: nil, limit: 7)
                older.insert(contentsOf: page.map(\.id), at: 0)
                cursor = page.count == 7 ? page.first?.id : nil
            }
            let arrived = try await writer.value
            var newer: [UUID] = []
            var after = first.last?.id
            while let a = after {
                let page = try await database.messages.history(chatId: p.chatId, viewer: p.a.id, before: nil, after: a, limit: 7)
                newer += page.map(\.id)
                after = page.isEmpty ? nil : page.last?.id
            }
            let all = older + newer
            XCTAssertEqual(Set(all).count, all.count, "a message was shown twice")
            XCTAssertEqual(all, before + arrived, "a message was missed or out of order")
        }
    }

    func testBatchStoresEachMessageOnceWhateverTheRepeatsInside() async throws {
        try await Self.batchStoresEachMessageOnce(genericPlans: false)
    }

    /// The message worker's pool plans its statements once: the same outcomes, and the setting
    /// really reaches the connections.
    func testBatchStoresEachMessageOnceWithGenericPlans() async throws {
        try await Self.batchStoresEachMessageOnce(genericPlans: true)
        try await TestServices.withDatabase(genericPlans: true) { database in
            for try await mode in try await database.client.query("SHOW plan_cache_mode").decode(String.self) {
                XCTAssertEqual(mode, "force_generic_plan")
            }
        }
    }

    /// The batch insert's member lists, read by hand from PostgreSQL's binary arrays, read as
    /// the driver reads them: the same ids, or the same refusal (NULLs, two dimensions, a lower
    /// bound other than 1).
    func testMemberArraysReadAsTheDriverReadsThem() async throws {
        let ids = (0..<12).map { _ in UUIDv7.make() }
        let arrays: [(String, PostgresQuery)] = [
            ("empty", "SELECT ARRAY[]::uuid[]"),
            ("one", "SELECT ARRAY[\(ids[0])]::uuid[]"),
            ("twelve", "SELECT \(ids)::uuid[]"),
            ("lower bound 3", "SELECT ('[3:4]={' || \(ids[1].uuidString) || ',' || \(ids[2].uuidString) || '}')::uuid[]"),
            ("a NULL", "SELECT ARRAY[\(ids[0]), NULL]::uuid[]"),
            ("two dimensions", "SELECT ARRAY[ARRAY[\(ids[0]), \(ids[1])], ARRAY[\(ids[2]), \(ids[3])]]::uuid[]"),
        ]
        try await TestServices.withDatabase { database in
            for (name, query) in arrays {
                for try await row in try await database.client.query(query, logger: TestServices.logger("t")) {
                    var cells = row.makeIterator()
                    let byHand = Result { try Rows.uuids(&cells) }
                    let byDriver = Result { try row.decode([UUID].self) }
                    switch (byHand, byDriver) {
                    case (.success(let a), .success(let b)): XCTAssertEqual(a, b, name)
                    case (.failure, .failure): break
                    default: XCTFail("\(name): by hand \(byHand), by the driver \(byDriver)")
                    }
                    if name == "twelve" { XCTAssertEqual(try byHand.get(), ids) }
                    if ["a NULL", "two dimensions", "lower bound 3"].contains(name) { XCTAssertThrowsError(try byHand.get(), name) }
                }
            }
        }
    }

    static func batchStoresEachMessageOnce(genericPlans: Bool) async throws {
        try await TestServices.withDatabase(genericPlans: genericPlans) { database in
            // More batches than the five custom plans PostgreSQL makes before it weighs a generic one.
            for _ in 0..<7 { try await batchStoresEachMessageOnce(database) }
        }
    }

    static func batchStoresEachMessageOnce(_ database: Database) async throws {
        let p = try await Self.pair(database)
        let stranger = try await TestServices.makeUser(database, name: "S")
        func create(_ sender: UUID, key: String?, text: String = "t") -> MessageCreate {
            MessageCreate(messageId: UUIDv7.make(), chatId: p.chatId, senderId: sender, messageType: .text, text: text, clientMessageId: key)
        }
        let plain = create(p.a.id, key: nil)
        let keyed = create(p.a.id, key: "k-\(UUID())")
        let twin = MessageCreate(messageId: UUIDv7.make(), chatId: p.chatId, senderId: p.a.id, messageType: .text, text: "again", clientMessageId: keyed.clientMessageId)
        let fromB = create(p.b.id, key: keyed.clientMessageId)  // same key, other sender: its own message
        let intruder = create(stranger.id, key: nil)
        let batch = try await database.messages.create([plain, keyed, plain, twin, fromB, intruder])
        let outcomes = batch.outcomes
        // The audience of the fan-out comes with the insert: the chat's members, no one else.
        XCTAssertEqual(batch.members.mapValues(Set.init), [p.chatId: [p.a.id, p.b.id]])

        guard case .created(let first) = outcomes[0], case .created(let second) = outcomes[1],
              case .existing(let repeated) = outcomes[2], case .existing(let twinFound) = outcomes[3],
              case .created(let bMessage) = outcomes[4], case .notMember = outcomes[5]
        else { return XCTFail("\(outcomes)") }
        XCTAssertEqual(first.id, plain.messageId)
        XCTAssertEqual(repeated.id, plain.messageId)
        XCTAssertEqual(twinFound.id, second.id)
        XCTAssertEqual(bMessage.sender.id, p.b.id)
        let fromA = try await Self.count(database, sender: p.a.id)
        XCTAssertEqual(fromA, 2)

        // The same batch again (a redelivery): nothing new.
        let again = try await database.messages.create([plain, keyed, twin]).outcomes
        XCTAssertTrue(again.allSatisfy { if case .existing = $0 { true } else { false } }, "\(again)")
        let stillFromA = try await Self.count(database, sender: p.a.id)
        XCTAssertEqual(stillFromA, 2)
    }

    func testRedeliveredOrOutdatedEditChangesNothing() async throws {
        try await TestServices.withDatabase { database in
            let p = try await Self.pair(database)
            let create = MessageCreate(messageId: UUIDv7.make(), chatId: p.chatId, senderId: p.a.id, messageType: .text, text: "v0", clientMessageId: nil)
            _ = try await database.messages.create(create)
            let (older, first, later) = (UUIDv7.make(), UUIDv7.make(), UUIDv7.make())
            let edit = { (text: String) in MessageEdit(messageId: create.messageId, editorId: p.a.id, text: text) }

            guard case .changed(let edited) = try await database.messages.edit(edit("v1"), commandId: first) else { return XCTFail("not edited") }
            guard case .unchanged(let again) = try await database.messages.edit(edit("v1"), commandId: first) else { return XCTFail("redelivery applied again") }
            XCTAssertEqual(again.editedAt, edited.editedAt)
            guard case .unchanged(let kept) = try await database.messages.edit(edit("stale"), commandId: older) else { return XCTFail("an older edit won") }
            XCTAssertEqual(kept.content.text, "v1")
            guard case .changed(let newer) = try await database.messages.edit(edit("v2"), commandId: later) else { return XCTFail("a newer edit lost") }
            XCTAssertEqual(newer.content.text, "v2")
        }
    }
}
