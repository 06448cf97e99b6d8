import Foundation
import MessageWorker
import ParleyCore
import ParleyPubSub
import ParleyQueue
import ParleyStore
import ParleyTestSupport
import PostgresNIO
import XCTest

/// The worker against real RabbitMQ, PostgreSQL and Redis, on a queue of its own per test.
final class MessageWorkerTests: XCTestCase {
    struct Rig: Sendable {
        let database: Database
        let publisher: QueuePublisher
        let redis: RedisClient
        let recorder: PubSubRecorder
        let consumerOfParked: QueueConsumer
        let node: String
        let prefix: String

        /// Publishes a command as a gateway would, replies to this rig's node.
        func send(_ command: Command) async throws {
            try await publisher.publish([UInt8](JSON.encode(command)), routingKey: "\(prefix).\(command.type.rawValue)")
        }

        func reply(to id: UUID) async -> CommandReply? {
            await recorder.next(CommandReply.self, on: Channels.node(node)) { $0.commandId == id }
        }
    }

    func withWorker(_ body: @Sendable (Rig) async throws -> Void) async throws {
        let id = UUID().uuidString.prefix(8).lowercased()
        let queue = "test.\(id).messages"
        let parked = "test.\(id).parked"
        let topology = Topology(exchange: "parley.test", queues: [
            .init(name: parked, bindings: []),
            .init(name: queue, bindings: ["test.\(id).#"], deliveryLimit: 3, deadLetterQueue: parked),
        ])
        // Planned, and on a loop of its own, as `parley worker message` has it.
        try await TestServices.withDatabase(genericPlans: true, ownLoop: true) { database in
            let logger = TestServices.logger("worker")
            let redis = RedisClient(endpoint: TestServices.redis, logger: logger)
            let recorder = PubSubRecorder()
            let publisher = QueuePublisher(endpoint: TestServices.amqp, topology: topology, logger: logger)
            let consumer = QueueConsumer(endpoint: TestServices.amqp, topology: topology, queue: queue, prefetch: 16, logger: logger)
            let parkedConsumer = QueueConsumer(endpoint: TestServices.amqp, topology: topology, queue: parked, prefetch: 16, logger: logger)
            let worker = MessageWorker(consumer: consumer, publisher: publisher, database: database, redis: redis, logger: logger)
            try await TestServices.run([redis, recorder, publisher, parkedConsumer, worker]) {
                let connected = await publisher.waitUntilConnected()
                XCTAssertTrue(connected, "RabbitMQ is not reachable: run `make services-up`")
                let rig = Rig(database: database, publisher: publisher, redis: redis, recorder: recorder, consumerOfParked: parkedConsumer,
                              node: "test-node-\(id)", prefix: "test.\(id)")
                await recorder.subscribe(Channels.node(rig.node))
                try await body(rig)
            }
            try? await QueueAdmin.delete(queues: [queue, parked], endpoint: TestServices.amqp)
        }
    }

    func testMessageIsPersistedFannedOutToMembersAndRepliedOnce() async throws {
        try await withWorker { rig in
            let a = try await TestServices.makeUser(rig.database, name: "A")
            let b = try await TestServices.makeUser(rig.database, name: "B")
            let (chatId, _) = try await rig.database.chats.createDirect(chatId: UUIDv7.make(), between: a.id, and: b.id)
            await rig.recorder.subscribe(Channels.user(b.id))

            let create = MessageCreate(messageId: UUIDv7.make(), chatId: chatId, senderId: a.id, messageType: .text, text: "hello", clientMessageId: "k1")
            let command = Command(replyTo: rig.node, payload: .messageCreate(create))
            try await rig.send(command)
            guard case .message(let stored, created: true)? = await rig.reply(to: command.id)?.outcome else {
                return XCTFail("no created reply")
            }
            XCTAssertEqual(stored.id, create.messageId)
            XCTAssertEqual(stored.content.text, "hello")
            let received = await rig.recorder.next(UserEvent.self, on: Channels.user(b.id))
            XCTAssertEqual(received, .messageReceived(stored))

            // The broker delivering the same command again changes nothing and still replies.
            try await rig.send(command)
            guard case .message(let again, created: false)? = await rig.reply(to: command.id)?.outcome else {
                return XCTFail("no reply to the redelivery")
            }
            XCTAssertEqual(again.id, stored.id)
            XCTAssertEqual(rig.recorder.count(on: Channels.user(b.id)), 0, "a redelivery announces nothing new")
            let history = try await rig.database.messages.history(chatId: chatId, viewer: a.id, before: nil, after: nil, limit: 50)
            XCTAssertEqual(history.map(\.id), [stored.id])
        }
    }

    func testStrangerGetsAForbiddenReplyAndNothingIsStored() async throws {
        try await withWorker { rig in
            let a = try await TestServices.makeUser(rig.database)
            let b = try await TestServices.makeUser(rig.database)
            let stranger = try await TestServices.makeUser(rig.database)
            let (chatId, _) = try await rig.database.chats.createDirect(chatId: UUIDv7.make(), between: a.id, and: b.id)
            let command = Command(replyTo: rig.node, payload: .messageCreate(MessageCreate(
                messageId: UUIDv7.make(), chatId: chatId, senderId: stranger.id, messageType: .text, text: "x", clientMessageId: nil)))
            try await rig.send(command)
            let reply = await rig.reply(to: command.id)
            XCTAssertEqual(reply?.outcome, .failed(.forbidden("You are not a member of this chat")))
            let history = try await rig.database.messages.history(chatId: chatId, viewer: a.id, before: nil, after: nil, limit: 50)
            XCTAssertTrue(history.isEmpty)
        }
    }

    func testDirectChatIsCreatedOnceAndAnnouncedToBothMembers() async throws {
        try await withWorker { rig in
            let a = try await TestServices.makeUser(rig.database)
            let b = try await TestServices.makeUser(rig.database)
            await rig.recorder.subscribe(Channels.user(a.id))
            let first = Command(replyTo: rig.node, payload: .chatCreateDirect(ChatCreateDirect(chatId: UUIDv7.make(), userId: a.id, otherUserId: b.id)))
            try await rig.send(first)
            guard case .chat(let chat, created: true)? = await rig.reply(to: first.id)?.outcome else { return XCTFail("not created") }
            XCTAssertEqual(Set(chat.users.map(\.id)), [a.id, b.id])
            let event = await rig.recorder.next(UserEvent.self, on: Channels.user(a.id))
            guard case .chatUpdated(let announced)? = event else { return XCTFail("no chat_updated") }
            XCTAssertEqual(announced.id, chat.id)

            let second = Command(replyTo: rig.node, payload: .chatCreateDirect(ChatCreateDirect(chatId: UUIDv7.make(), userId: b.id, otherUserId: a.id)))
            try await rig.send(second)
            guard case .chat(let same, created: false)? = await rig.reply(to: second.id)?.outcome else { return XCTFail("created twice") }
            XCTAssertEqual(same.id, chat.id)
        }
    }

    func testEachCommandOfABatchIsAppliedOrParkedOnItsOwnAndOnce() async throws {
        try await withWorker { rig in
            let a = try await TestServices.makeUser(rig.database, name: "A")
            let b = try await TestServices.makeUser(rig.database, name: "B")
            let stranger = try await TestServices.makeUser(rig.database)
            let (chatId, _) = try await rig.database.chats.createDirect(chatId: UUIDv7.make(), between: a.id, and: b.id)
            await rig.recorder.subscribe(Channels.user(b.id))
            func create(_ sender: UUID, _ text: String, id: UUID = UUIDv7.make()) -> Command {
                Command(replyTo: rig.node, payload: .messageCreate(MessageCreate(
                    messageId: id, chatId: chatId, senderId: sender, messageType: .text, text: text, clientMessageId: nil)))
            }
            let firstId = UUIDv7.make()
            let first = create(a.id, "one", id: firstId)
            let refused = create(stranger.id, "let me in")
            let misrouted = Command(replyTo: rig.node, payload: .presenceConnect(PresenceChange(userId: a.id, connectionId: "c", nodeId: "n")))
            let read = Command(replyTo: rig.node, payload: .chatRead(ReadMark(chatId: chatId, userId: b.id, messageId: firstId)))
            let second = create(b.id, "two")
            let batch = CommandBatch.encode(try [first, refused, misrouted, read, second].map { [UInt8](try JSON.encode($0)) })
            try await rig.publisher.publish(batch, routingKey: "\(rig.prefix).message.create")

            guard case .message(let one, created: true)? = await rig.reply(to: first.id)?.outcome,
                  case .message(let two, created: true)? = await rig.reply(to: second.id)?.outcome
            else { return XCTFail("the batch's messages were not created") }
            let refusal = await rig.reply(to: refused.id)
            XCTAssertEqual(refusal?.outcome, .failed(.forbidden("You are not a member of this chat")))
            let readReply = await rig.reply(to: read.id)
            XCTAssertNotNil(readReply, "the read mark in the batch was not applied")
            let parked = await next(from: rig.consumerOfParked.deliveries)
            let record = try XCTUnwrap(parked.map { try JSON.decode(ParkedCommand.self, from: Data($0.body)) }, "misrouted command not parked")
            let parkedCommand = try JSON.decode(Command.self, from: Data(record.body.utf8))
            XCTAssertEqual(parkedCommand.id, misrouted.id, "parked alone, as itself")
            XCTAssertEqual(parkedCommand.type, .presenceConnect)
            XCTAssertTrue(record.reason.contains("not a command of the message worker"), record.reason)

            // The whole batch delivered again changes nothing and each command still replies.
            try await rig.publisher.publish(batch, routingKey: "\(rig.prefix).message.create")
            guard case .message(_, created: false)? = await rig.reply(to: first.id)?.outcome,
                  case .message(_, created: false)? = await rig.reply(to: second.id)?.outcome
            else { return XCTFail("no replies to the redelivered batch") }
            let history = try await rig.database.messages.history(chatId: chatId, viewer: a.id, before: nil, after: nil, limit: 50)
            XCTAssertEqual(Set(history.map(\.id)), [one.id, two.id])
        }
    }

    func testAMessageTheDatabaseRefusesIsRefusedAloneAndTheRestOfItsBatchIsStored() async throws {
        try await withWorker { rig in
            let a = try await TestServices.makeUser(rig.database, name: "A")
            let b = try await TestServices.makeUser(rig.database, name: "B")
            let (chatId, _) = try await rig.database.chats.createDirect(chatId: UUIDv7.make(), between: a.id, and: b.id)
            func create(_ text: String) -> Command {
                Command(replyTo: rig.node, payload: .messageCreate(MessageCreate(
                    messageId: UUIDv7.make(), chatId: chatId, senderId: a.id, messageType: .text, text: text, clientMessageId: nil)))
            }
            // PostgreSQL stores no NUL in text; the gateway refuses it too, but a worker cannot rely on that.
            let commands = [create("before"), create("with a \u{0} inside"), create("after")]
            let batch = CommandBatch.encode(try commands.map { [UInt8](try JSON.encode($0)) })
            try await rig.publisher.publish(batch, routingKey: "\(rig.prefix).message.create")

            guard case .failed(let refusal)? = await rig.reply(to: commands[1].id)?.outcome else {
                return XCTFail("the message with a NUL was not refused")
            }
            XCTAssertEqual(refusal.code, .badRequest)
            for command in [commands[0], commands[2]] {
                guard case .message(_, created: true)? = await rig.reply(to: command.id)?.outcome else {
                    return XCTFail("a message beside it was not stored")
                }
            }
            let history = try await rig.database.messages.history(chatId: chatId, viewer: a.id, before: nil, after: nil, limit: 50)
            XCTAssertEqual(Set(history.compactMap(\.content.text)), ["before", "after"])
            // Answered, not parked.
            let parked = await next(from: rig.consumerOfParked.deliveries, timeout: .milliseconds(500))
            XCTAssertNil(parked)
        }
    }

    /// A message taken from the sender's socket says so, and its sender is online without asking
    /// presence; for any other, presence decides. All three go in one batch.
    func testTheSendersOnlineStatusComesFromTheirSocketOrFromPresence() async throws {
        try await withWorker { rig in
            let onSocket = try await TestServices.makeUser(rig.database, name: "Socket")
            let connected = try await TestServices.makeUser(rig.database, name: "Connected")
            let away = try await TestServices.makeUser(rig.database, name: "Away")
            let chatId = UUIDv7.make()
            _ = try await rig.database.chats.createGroup(ChatCreateGroup(
                chatId: chatId, adminId: onSocket.id, chatName: "three", memberIds: [connected.id, away.id]))
            // Only `connected` has a connection in presence; the socket's own is not there yet.
            let node = "test-node-\(UUID().uuidString.prefix(8))"
            _ = try await PresenceStore(redis: rig.redis).connect(
                PresenceChange(userId: connected.id, connectionId: "\(node)/1", nodeId: node), nodeTTL: 30)
            let commands = [(onSocket.id, true as Bool?), (connected.id, nil), (away.id, nil)].map { sender, online in
                Command(replyTo: rig.node, payload: .messageCreate(MessageCreate(
                    messageId: UUIDv7.make(), chatId: chatId, senderId: sender, messageType: .text, text: "hi",
                    clientMessageId: nil, senderOnline: online)))
            }
            try await rig.publisher.publish(
                CommandBatch.encode(try commands.map { try $0.encoded() }), routingKey: "\(rig.prefix).message.create")
            var online: [Bool] = []
            for command in commands {
                guard case .message(let message, created: true)? = await rig.reply(to: command.id)?.outcome else {
                    return XCTFail("no created reply")
                }
                online.append(message.sender.isOnline)
            }
            XCTAssertEqual(online, [true, true, false])
        }
    }

    func testUndecodableCommandIsParked() async throws {
        try await withWorker { rig in
            let junk = "{\"type\":\"nonsense-\(UUID())\"}"
            try await rig.publisher.publish(Array(junk.utf8), routingKey: "\(rig.prefix).message.create")
            let parked = await next(from: rig.consumerOfParked.deliveries)
            let record = try parked.map { try JSON.decode(ParkedCommand.self, from: Data($0.body)) }
            XCTAssertEqual(record?.body, junk)
            XCTAssertEqual(record?.routingKey, "\(rig.prefix).message.create")
            XCTAssertTrue(record?.reason.hasPrefix("undecodable command") == true, record?.reason ?? "not parked")
        }
    }
}
