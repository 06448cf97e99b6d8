import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Answers `Expect: 100-continue` (RFC 9110, 10.1.1). curl sends it with any body over 1 MiB,
/// as other HTTP clients do with large bodies, and holds the body back until `100 Continue`
/// comes: a second, unanswered, which was most of a 10 MiB upload's time on loopback.
///
/// The interim answer goes out when the route first reads the body, not on arrival: a request
/// refused before that (no token, a `Content-Length` over the limit) gets its final answer
/// without the client sending a byte of the body. The connection then stays open as usual, the
/// server reading whatever body the client still sends.
struct ContinueMiddleware: RouterMiddleware {
    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        guard Self.expectsContinue(request.headers), request.headers[.contentLength] != "0" else {
            return try await next(request, context)
        }
        var request = request
        request.body = RequestBody(asyncSequence: ContinuingBody(base: request.body, channel: context.channel))
        return try await next(request, context)
    }

    /// Whether `Expect` holds the `100-continue` expectation (its token is case-insensitive).
    static func expectsContinue(_ headers: HTTPFields) -> Bool {
        headers[values: .expect].contains { value in
            value.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces).lowercased() == "100-continue" }
        }
    }
}

/// A request body that sends `100 Continue` before its first read.
private struct ContinuingBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    let base: RequestBody
    let channel: any Channel

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let channel: any Channel
        var answered = false

        mutating func next() async throws -> ByteBuffer? {
            if !answered {
                answered = true
                // Written and flushed before the read, so that it precedes any final response.
                try await channel.writeAndFlush(HTTPResponsePart.head(HTTPResponse(status: .continue)))
            }
            return try await base.next()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), channel: channel)
    }
}
