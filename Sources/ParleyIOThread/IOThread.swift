import Foundation
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A thread of its own for one blocking C client (an AMQP or Redis connection), with a wake-up
/// pipe so that other threads can interrupt its wait on the connection's socket.
///
/// The C clients are not thread-safe and their calls block, so each connection lives on one
/// ``IOThread``; async Swift hands it work through a locked inbox and ``wake()``, and gets
/// results back through continuations.
public final class IOThread: Sendable {
    public let name: String
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let stopped = Atomic<Bool>(false)

    /// Creates the thread's wake-up pipe; the thread itself starts with ``start(_:)``.
    public init(name: String) {
        self.name = name
        var fds: [Int32] = [-1, -1]
        precondition(pipe(&fds) == 0, "pipe failed: \(errno)")
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// The read end of the wake-up pipe, for C code that polls it beside a socket.
    public var wakeFD: Int32 { wakeRead }

    /// Whether ``stop()`` was called; the loop should return soon after.
    public var isStopped: Bool { stopped.load(ordering: .acquiring) }

    /// Runs `body` on a new thread; `body` is the connection's whole life and returns on stop.
    /// The thread carries `name` where the system shows threads (`top -H`, `perf`, `/proc`): its
    /// first 15 bytes, as many as Linux keeps.
    public func start(_ body: @escaping @Sendable () -> Void) {
        let systemName = Array(name.utf8.prefix(15))
        let thread = Thread {
            // `pthread_setname_np` is not in Swift's view of the C library; the kernel takes the
            // name here as well, for the thread that writes it.
            let fd = open("/proc/thread-self/comm", O_WRONLY)
            if fd >= 0 {
                _ = systemName.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
            body()
        }
        thread.name = name
        thread.start()
    }

    /// Interrupts the thread's current wait; work is handed over with ``Inbox/put(_:waking:)``.
    func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    /// Asks the loop to end and wakes it.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        wake()
    }

    /// Waits until `fd` is readable, ``wake()`` is called, or `timeout` passes; a negative `fd`
    /// waits for the wake-up or the timeout alone.
    /// - Returns: whether `fd` is readable; a wake-up byte is consumed.
    @discardableResult
    public func wait(readable fd: Int32 = -1, timeout: Duration) -> Bool {
        var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0), pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        let n = poll(&fds, fd >= 0 ? 2 : 1, Int32(clamping: timeout.pollMilliseconds))
        guard n > 0 else { return false }
        if fds[0].revents & Int16(POLLIN) != 0 { drainWakeups() }
        return fd >= 0 && fds[1].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0
    }

    /// Sleeps up to `duration` unless woken; for back-off between reconnects.
    public func sleep(_ duration: Duration) {
        wait(timeout: duration)
    }

    private func drainWakeups() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }
}

/// When an item put in an ``Inbox`` wakes its thread.
public struct WakeUp: Sendable {
    let schedule: @Sendable (@escaping @Sendable () -> Void) -> Void

    /// At once.
    public static let now = WakeUp { $0() }

    /// Once `schedule` runs it: after the work already queued on an event loop, say, so that
    /// the items put meanwhile (by the other jobs of the loop's turn) share one wake-up. Each
    /// wake-up costs the thread a switch, and the thread putting often one more: the woken
    /// thread preempts it.
    public static func deferred(_ schedule: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void) -> WakeUp {
        WakeUp(schedule: schedule)
    }
}

/// A queue of work for an ``IOThread``, filled from any thread and drained by the loop.
public final class Inbox<Item: Sendable>: Sendable {
    private let items = Mutex<[Item]>([])

    public init() {}

    /// Queues `item` for `thread`, which takes the whole inbox each time it wakes: only an item
    /// that finds the inbox empty wakes it (the others of a burst ride on that wake-up), `when`
    /// says.
    public func put(_ item: Item, waking thread: IOThread, when: WakeUp = .now) {
        let wasEmpty = items.withLock { items in
            defer { items.append(item) }
            return items.isEmpty
        }
        if wasEmpty { when.schedule { thread.wake() } }
    }

    /// Everything queued so far, oldest first.
    public func takeAll() -> [Item] {
        items.withLock { items in
            defer { items.removeAll(keepingCapacity: true) }
            return items
        }
    }
}

/// Reconnection delays: exponential from `initial` to `maximum`, each drawn at random between half
/// and all of it, so that clients cut off together do not come back together.
public struct Backoff: Sendable {
    public var initial: Duration
    public var maximum: Duration
    private var attempt = 0

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The next delay to wait before trying again.
    public mutating func next() -> Duration {
        let cap = min(maximum, initial * (1 << min(attempt, 16)))
        attempt += 1
        return cap * Double.random(in: 0.5...1.0)
    }

    /// Call after a success.
    public mutating func reset() { attempt = 0 }

    /// Whether no delay was drawn since the last reset: the coming failure is the first.
    public var isFresh: Bool { attempt == 0 }
}

/// A client whose connection lives on an ``IOThread``: as a `Service` it runs from ``start()``
/// until graceful shutdown, then ``stop()``s.
public protocol IOThreadService: Service {
    /// Starts the connection thread.
    func start()
    /// Asks the connection thread to finish.
    func stop()
}

extension IOThreadService {
    public func run() async throws {
        start()
        try? await gracefulShutdown()
        stop()
    }
}

extension Duration {
    /// Whole milliseconds for `poll`, rounded up: rounding down would wake the thread just
    /// before a deadline, to find nothing due. Negative durations are zero.
    var pollMilliseconds: Int64 {
        guard self > .zero else { return 0 }
        let (seconds, attoseconds) = components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}
