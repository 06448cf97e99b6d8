import Foundation
import Histogram
import NIOCore
import NIOPosix
import SocketIO
import Synchronization

/// `parley loadtest`: users on Socket.IO sockets sending into their chats at a target rate,
/// measuring send→ack and send→delivery latency, deliveries, errors and its own CPU.
public struct LoadTest: Sendable {
    public let plan: LoadTestPlan
    /// Where reused accounts are kept between runs.
    public let statePath: String
    /// Progress and notes (stderr in the CLI).
    public let log: @Sendable (String) -> Void

    public init(plan: LoadTestPlan, statePath: String, log: @escaping @Sendable (String) -> Void) {
        self.plan = plan
        self.statePath = statePath
        self.log = log
    }

    public func run() async throws -> LoadReport {
        let client = LoadClient()
        let base = plan.urls[0]
        let setup = LoadAccounts(client: client, base: base, statePath: statePath, log: log)
        let accounts = try await setup.users(plan.users)
        let chats = try await setup.chats(of: accounts, size: plan.chatSize)
        log("\(accounts.count) users, \(chats.count) chats of \(plan.chatSize), over \(plan.urls.count) gateway(s)")

        let recorder = LoadRecorder()
        let sockets = Locked<[Int: LoadSocket]>([:])
        let failedConnections = Locked(0)
        let runId = UUID().uuidString.prefix(8).lowercased()
        let run = Array(runId.utf8)
        let text = String(repeating: "x", count: plan.messageSize)
        // A send's arguments but its key, per chat, made once (building each from a `JSONValue`
        // was a twentieth of the generator's CPU).
        let bodyStarts = chats.map { chat in
            Array(#"{"chatId":"#.utf8) + JSONValue.string(chat.id).serialized + Array(#","text":"#.utf8)
                + JSONValue.string(text).serialized + Array(#","clientMessageId":"#.utf8)
        }
        let connectDeadline = ContinuousClock.now + .seconds(30)
        let plan = self.plan
        let log = self.log

        return try await withThrowingTaskGroup(of: Void.self) { group in
            let stopSignal = StopSignal()
            for (index, account) in accounts.enumerated() {
                let url = plan.urls[index % plan.urls.count]
                group.addTask {
                    do {
                        let socket = try await LoadSocket.connect(to: url, token: account.token) { raw in
                            // Recorded where it is read, on the event loop: the generator's cost
                            // per delivery is part of what limits the rates it can drive.
                            guard let key = MessageKey(inMessage: raw, run: run) else { return }
                            recorder.delivered(key, to: index, at: .now)
                        }
                        recorder.connected()
                        sockets.withLock { $0[index] = socket }
                        await stopSignal.wait()
                        socket.close()
                        recorder.disconnected()
                    } catch {
                        failedConnections.withLock { $0 += 1 }
                        recorder.failed(nil, kind: "connect: \(error)")
                    }
                }
            }
            // Everyone connected (or failed) before the first message.
            while ContinuousClock.now < connectDeadline {
                let ready = sockets.withLock { $0.count } + failedConnections.withLock { $0 }
                if ready >= accounts.count { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            let held = sockets.withLock { $0 }
            log("\(held.count) sockets connected\(held.count < accounts.count ? ", \(accounts.count - held.count) failed" : "")")
            guard !chats.isEmpty, !held.isEmpty else {
                stopSignal.fire()
                try await group.waitForAll()
                throw LoadClient.Failure(status: 0, body: "no chats or no connected sockets")
            }

            let cpuBefore = ProcessCPU.seconds()
            let start = ContinuousClock.now
            let images = Locked(0)
            let progress = Task { await Self.progress(recorder, start: start, plan: plan, log: log) }
            let pacer = SendPacer(plan: plan, chats: chats, held: held, bodyStarts: bodyStarts, runId: runId, recorder: recorder)
            await withDiscardingTaskGroup { group in
                for await upload in pacer.start(at: start, on: held.values.first!.eventLoop) {
                    let account = accounts[upload.sender]
                    let url = plan.urls[upload.sender % plan.urls.count]
                    group.addTask {
                        recorder.sent(upload.key, recipients: upload.recipients, at: .now)
                        let seed = UInt64(images.withLock { $0 += 1; return $0 }) &* 0x9E37_79B9_7F4A_7C15
                        do {
                            let status = try await client.upload(url, token: account.token, chatId: upload.chat.id, clientMessageId: upload.key.text(run: runId), image: TinyPNG.make(side: 64, seed: seed))
                            if status == 201 { recorder.acked(upload.key, upload: true, at: .now) } else { recorder.failed(upload.key, kind: "upload HTTP \(status)") }
                        } catch {
                            recorder.failed(upload.key, kind: "upload: \(type(of: error))")
                        }
                    }
                }
            }
            // Rates count over the sending window; then the last acks (each times out by itself).
            let sendingTime = Self.seconds(ContinuousClock.now - start)
            while pacer.unanswered.withLock({ $0 }) > 0 { try await Task.sleep(for: .milliseconds(5)) }
            // Let the last deliveries arrive.
            let drainEnd = ContinuousClock.now + .seconds(plan.drain)
            while ContinuousClock.now < drainEnd {
                let outstanding = recorder.state.withLock { $0.expected - $0.delivered }
                if outstanding <= 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let cpu = ProcessCPU.seconds() - cpuBefore
            progress.cancel()
            let report = recorder.state.withLock { state in
                LoadReport(
                    plan: plan, state: state, sendingSeconds: sendingTime, connectionsFailed: failedConnections.withLock { $0 }, cpuSeconds: cpu,
                    eventLoops: Array(MultiThreadedEventLoopGroup.singleton.makeIterator()).count)
            }
            stopSignal.fire()
            try await group.waitForAll()
            return report
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// One line a second: time, sent, acked, delivered per second, p99 so far, errors, sockets.
    static func progress(_ recorder: LoadRecorder, start: ContinuousClock.Instant, plan: LoadTestPlan, log: @Sendable (String) -> Void) async {
        var lastDelivered = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            if Task.isCancelled { return }
            let line = recorder.state.withLock { s -> String in
                defer { lastDelivered = s.delivered }
                let p99 = Double(s.delivery.valueAtPercentile(99)) / 1000
                let errors = s.errors.values.reduce(0, +)
                return String(
                    format: "%5.1fs  sent %7d  acked %7d  delivered/s %7d  p99 delivery %7.2f ms  errors %d  sockets %d",
                    seconds(ContinuousClock.now - start), s.sent, s.acked, s.delivered - lastDelivered, p99, errors, s.connections)
            }
            log(line)
        }
    }
}

/// A value behind a lock that tasks share (a class, so closures capture a reference).
public final class Locked<T: Sendable>: Sendable {
    private let mutex: Mutex<T>

    public init(_ value: T) { mutex = Mutex(value) }

    public func withLock<R>(_ body: (inout T) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// Lets every connection's body wait for the end of a run.
public final class StopSignal: Sendable {
    private let state = Mutex<(fired: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    public init() {}

    public func wait() async {
        await withCheckedContinuation { continuation in
            let fired = state.withLock { s -> Bool in
                if s.fired { return true }
                s.waiting.append(continuation)
                return false
            }
            if fired { continuation.resume() }
        }
    }

    public func fire() {
        let waiting = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.fired = true
            defer { s.waiting.removeAll() }
            return s.waiting
        }
        for continuation in waiting { continuation.resume() }
    }
}

/// CPU time (user + system) this process has used.
enum ProcessCPU {
    static func seconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }
}
