import HTTPTypes
import Hummingbird

/// `HEAD` on every `GET` route (RFC 9110, 9.3.2), as Express answers it: the `GET` response's
/// status and headers, `Content-Length` included, without its body. A client learns a file's
/// size and type, or checks a link, without fetching it.
///
/// Around the router rather than in it: the router picks a route by method before any of its
/// middleware runs, so a `HEAD` would find none. Not under `exceptUnder`, the Socket.IO path,
/// where a `GET` takes the packets waiting for a polling client.
struct HeadResponder<Routes: HTTPResponder>: HTTPResponder {
    let routes: Routes
    let exceptUnder: String

    func respond(to request: Request, context: Routes.Context) async throws -> Response {
        guard request.method == .head, !request.uri.path.hasPrefix(exceptUnder) else {
            return try await routes.respond(to: request, context: context)
        }
        var head = request.head
        head.method = .get
        var response = try await routes.respond(to: Request(head: head, body: request.body), context: context)
        let length = response.headers[.contentLength]
        // A streamed body (a file) is never started: its file is not read.
        response.body = ResponseBody()
        // Setting the body set the length to the empty one's.
        response.headers[.contentLength] = length
        return response
    }
}
