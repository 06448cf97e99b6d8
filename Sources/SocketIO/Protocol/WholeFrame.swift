import NIOCore
import NIOWebSocket

extension ByteBufferAllocator {
    /// A buffer holding a whole final WebSocket frame, its header and then the `length` bytes
    /// `payload` writes, masked with `maskKey` when there is one (a client's frames are masked,
    /// a server's are not: RFC 6455, 5.1 and 5.3).
    ///
    /// A frame written so is one buffer and one write down the pipeline. Given a
    /// `WebSocketFrame`, NIO's encoder writes the header as a buffer of its own: it would write it
    /// in place only into a buffer it alone holds, which a frame's never is, as the frame's
    /// storage holds it too. Write such bytes past the encoder, or where there is none.
    public func wholeWebSocketFrame(
        opcode: WebSocketOpcode, length: Int, maskKey: WebSocketMaskingKey? = nil, payload: (inout ByteBuffer) -> Void
    ) -> ByteBuffer {
        var frame = buffer(capacity: ByteBuffer.wholeWebSocketFrameSize(length: length, masked: maskKey != nil))
        frame.writeWholeWebSocketFrame(opcode: opcode, length: length, maskKey: maskKey, payload: payload)
        return frame
    }
}

extension ByteBuffer {
    /// The bytes a whole frame of a `length`-byte payload takes, its header included.
    public static func wholeWebSocketFrameSize(length: Int, masked: Bool = false) -> Int {
        let lengthBytes = switch length {
        case ..<126: 0
        case ...Int(UInt16.max): 2
        default: 8
        }
        return 2 + lengthBytes + (masked ? 4 : 0) + length
    }

    /// Appends a whole final WebSocket frame (see `ByteBufferAllocator.wholeWebSocketFrame`):
    /// several frames for one connection go out as one buffer.
    public mutating func writeWholeWebSocketFrame(
        opcode: WebSocketOpcode, length: Int, maskKey: WebSocketMaskingKey? = nil, payload: (inout ByteBuffer) -> Void
    ) {
        writeFrameHeader(opcode: opcode, length: length, maskKey: maskKey)
        let start = writerIndex
        payload(&self)
        precondition(writerIndex - start == length, "a frame's payload is the length its header gives")
        if let maskKey {
            let key = Array(maskKey)
            let offset = start - readerIndex
            withUnsafeMutableReadableBytes { bytes in
                for i in 0..<length { bytes[offset + i] ^= key[i & 3] }
            }
        }
    }
}

extension ByteBuffer {
    fileprivate mutating func writeFrameHeader(opcode: WebSocketOpcode, length: Int, maskKey: WebSocketMaskingKey?) {
        writeInteger(0x80 | UInt8(webSocketOpcode: opcode))
        let masked: UInt8 = maskKey == nil ? 0 : 0x80
        switch length {
        case ..<126:
            writeInteger(masked | UInt8(length))
        case ...Int(UInt16.max):
            writeInteger(masked | 126)
            writeInteger(UInt16(length))
        default:
            writeInteger(masked | 127)
            writeInteger(UInt64(length))
        }
        if let maskKey { writeBytes(maskKey) }
    }
}
