import CRabbitMQ

/// One rabbitmq-c connection with channel 1 open. Not thread-safe: it is created, used and closed
/// on a single ``IOThread``.
final class AMQPConnection {
    private let handle: OpaquePointer
    private var errorBuffer = [CChar](repeating: 0, count: 512)

    init(_ endpoint: AMQPEndpoint) throws(QueueError) {
        var err = [CChar](repeating: 0, count: 512)
        guard let handle = parley_amqp_connect(
            endpoint.host, Int32(endpoint.port), endpoint.vhost, endpoint.user, endpoint.password,
            Int32(endpoint.heartbeat), &err, err.count
        ) else {
            throw .unavailable(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        self.handle = handle
    }

    deinit { parley_amqp_close(handle) }

    var fd: Int32 { parley_amqp_fd(handle) }
    var hasBuffered: Bool { parley_amqp_has_buffered(handle) != 0 }

    /// Runs a C call that reports failure as -1 and turns it into a ``QueueError``.
    @discardableResult
    func call(_ body: (OpaquePointer, UnsafeMutablePointer<CChar>, Int) -> Int32) throws(QueueError) -> Int32 {
        let count = errorBuffer.count
        let (result, message) = errorBuffer.withUnsafeMutableBufferPointer { buffer in
            buffer[0] = 0
            let result = body(handle, buffer.baseAddress!, count)
            return (result, result < 0 ? String(cString: buffer.baseAddress!) : "")
        }
        if result < 0 { throw .failed(message) }
        return result
    }

    func declare(_ topology: Topology) throws(QueueError) {
        try call { parley_amqp_declare_exchange($0, topology.exchange, "topic", $1, $2) }
        for queue in topology.queues {
            try call { h, e, n in
                parley_amqp_declare_queue(
                    h, queue.name, queue.quorum ? 1 : 0, Int32(queue.deliveryLimit ?? 0),
                    queue.deadLetterQueue == nil ? nil : "", queue.deadLetterQueue, 0, e, n)
            }
            for key in queue.bindings {
                try call { parley_amqp_bind($0, queue.name, topology.exchange, key, $1, $2) }
            }
        }
        for seconds in topology.retryDelays {
            let name = topology.retryExchange(seconds: seconds)
            try call { parley_amqp_declare_exchange($0, name, "fanout", $1, $2) }
            try call { parley_amqp_declare_queue($0, name, 0, 0, topology.exchange, nil, Int32(seconds * 1000), $1, $2) }
            try call { parley_amqp_bind($0, name, name, "", $1, $2) }
        }
    }
}
