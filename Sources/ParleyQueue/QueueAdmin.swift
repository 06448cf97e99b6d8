import CRabbitMQ
import Foundation

/// One-off broker operations (delete or purge queues) over a short-lived connection on a
/// thread of its own, for the CLI and tests.
public enum QueueAdmin {
    /// Deletes the named queues with everything in them; a missing queue is not an error.
    public static func delete(queues: [String], endpoint: AMQPEndpoint) async throws {
        try await onOwnThread {
            let connection = try AMQPConnection(endpoint)
            for name in queues {
                try connection.call { parley_amqp_delete_queue($0, name, $1, $2) }
            }
        }
    }

    /// Removes every message waiting in the named queue.
    public static func purge(queue: String, endpoint: AMQPEndpoint) async throws {
        try await onOwnThread {
            let connection = try AMQPConnection(endpoint)
            try connection.call { parley_amqp_purge($0, queue, $1, $2) }
        }
    }

    private static func onOwnThread(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}
