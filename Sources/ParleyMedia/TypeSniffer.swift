import CMagic
import Synchronization

/// The real type of a file, from its bytes (libmagic), whatever its name or the client said.
///
/// A `magic_t` is not thread-safe: each call borrows one from a small pool, so calls on different
/// threads run in parallel. Calls block (they read the file): run them on a thread pool.
public final class TypeSniffer: Sendable {
    private struct Handle: @unchecked Sendable {
        let cookie: OpaquePointer
    }

    private let idle = Mutex<[Handle]>([])

    public init() {}

    deinit {
        for handle in idle.withLock({ $0 }) { magic_close(handle.cookie) }
    }

    /// The MIME type of the file at `path` (e.g. `image/png`, `text/html`,
    /// `application/x-pie-executable`), without parameters.
    public func mimeType(ofFileAt path: String) throws(MediaError) -> String {
        let handle = try borrow()
        defer { idle.withLock { $0.append(handle) } }
        guard let result = magic_file(handle.cookie, path) else {
            throw MediaError.unreadable(String(cString: magic_error(handle.cookie)))
        }
        return String(cString: result)
    }

    private func borrow() throws(MediaError) -> Handle {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        // MAGIC_ERROR: an unreadable file is an error, not "application/x-empty".
        guard let cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR) else {
            throw MediaError.unreadable("libmagic: cannot start")
        }
        guard magic_load(cookie, nil) == 0 else {
            let message = String(cString: magic_error(cookie))
            magic_close(cookie)
            throw MediaError.unreadable("libmagic: cannot load its database: \(message)")
        }
        return Handle(cookie: cookie)
    }
}
