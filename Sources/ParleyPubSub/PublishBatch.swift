import Foundation
import ParleyCore

/// PUBLISHes written in Redis' protocol as they are added, sent in one pipelined piece by
/// ``RedisClient/publish(_:)``. A group message's events for its members made a channel name, an
/// array of arguments and a copy of the name for each member (about half of the message
/// worker's allocations); here each member's PUBLISH is bytes appended to one buffer.
public struct PublishBatch: Sendable {
    /// The PUBLISHes, in RESP.
    private(set) var resp: [UInt8] = []
    /// How many PUBLISHes it holds.
    public private(set) var count = 0

    public init() {}

    /// A batch of `message` on `channel`.
    public init(_ message: [UInt8], to channel: String) {
        add(message, to: channel)
    }

    /// A batch of `message` for every socket of each of `users`.
    public init(_ message: [UInt8], toUsers users: [UUID]) {
        add(message, toUsers: users)
    }

    public var isEmpty: Bool { count == 0 }

    /// `message` on `channel`.
    public mutating func add(_ message: [UInt8], to channel: String) {
        var channel = channel
        channel.withUTF8 { add(message, on: UnsafeRawBufferPointer($0)) }
    }

    /// `message` for every socket of `user` (``Channels/user(_:)``).
    public mutating func add(_ message: [UInt8], toUser user: UUID) {
        reserve(Self.size(of: message))
        Channels.withUser(user) { add(message, on: $0) }
    }

    /// `message` for every socket of each of `users`. An array, not any collection: generic
    /// across modules, each element taken from the collection was an allocation.
    public mutating func add(_ message: [UInt8], toUsers users: [UUID]) {
        reserve(Self.size(of: message) * users.count)
        for user in users {
            Channels.withUser(user) { add(message, on: $0) }
        }
    }

    /// The bytes of one PUBLISH of `message` to a user.
    private static func size(of message: [UInt8]) -> Int {
        header.count + RedisConnection.bulkSize(Channels.userChannelLength) + RedisConnection.bulkSize(message.count)
    }

    /// `*3`, then `PUBLISH`, the channel and the message as bulk strings.
    private mutating func add(_ message: [UInt8], on channel: UnsafeRawBufferPointer) {
        resp.append(contentsOf: Self.header)
        RedisConnection.writeBulk(channel, into: &resp)
        message.withUnsafeBytes { RedisConnection.writeBulk($0, into: &resp) }
        count += 1
    }

    /// Room for `more` bytes, growing as an append does: reserved exactly each time, a batch of
    /// many messages would be copied whole for each.
    private mutating func reserve(_ more: Int) {
        let needed = resp.count + more
        if resp.capacity < needed { resp.reserveCapacity(Swift.max(needed, 2 * resp.capacity)) }
    }

    private static let header = Array("*3\r\n$7\r\nPUBLISH\r\n".utf8)
}
