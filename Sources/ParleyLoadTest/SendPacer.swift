import NIOCore
import Synchronization

/// Issues a run's messages at the plan's rate from a task repeated on one of the sockets' event
/// loops: every tick, what is due goes to the loops of its senders' sockets. Paced by
/// `Task.sleep` instead, each tick took a dispatch timer, a thread of the shared pool and a
/// wake-up of every loop: a fifth of the generator's CPU at 1,000 msg/s.
final class SendPacer: Sendable {
    /// A message that goes as an image upload, over HTTP, which the caller runs as a task.
    struct Upload: Sendable {
        let key: MessageKey
        let sender: Int
        let chat: LoadAccounts.Chat
        let recipients: [Int]
    }

    private struct SocketSend: Sendable {
        let socket: LoadSocket
        let key: MessageKey
        let recipients: [Int]
        let body: [UInt8]
    }

    static let tick = TimeAmount.milliseconds(2)

    private let plan: LoadTestPlan
    private let chats: [LoadAccounts.Chat]
    private let held: [Int: LoadSocket]
    /// A send's arguments but its key, per chat.
    private let bodyStarts: [[UInt8]]
    private let runId: String
    private let recorder: LoadRecorder
    /// Messages issued so far; only the pacing loop touches it.
    private let issued = Mutex(0)
    /// Socket sends handed to their event loops and not answered yet.
    let unanswered = Mutex(0)

    init(plan: LoadTestPlan, chats: [LoadAccounts.Chat], held: [Int: LoadSocket], bodyStarts: [[UInt8]], runId: String, recorder: LoadRecorder) {
        self.plan = plan
        self.chats = chats
        self.held = held
        self.bodyStarts = bodyStarts
        self.runId = runId
        self.recorder = recorder
    }

    /// Starts sending on `loop`; the stream carries the uploads and ends with the last tick,
    /// the one at or past the plan's duration, which issues whatever the whole run was due.
    func start(at start: ContinuousClock.Instant, on loop: any EventLoop) -> AsyncStream<Upload> {
        let (uploads, continuation) = AsyncStream.makeStream(of: Upload.self)
        loop.scheduleRepeatedTask(initialDelay: .zero, delay: Self.tick) { [self] task in
            let elapsed = LoadTest.seconds(ContinuousClock.now - start)
            issue(upTo: Int(plan.due(at: min(elapsed, plan.duration))), uploads: continuation)
            if elapsed >= plan.duration {
                task.cancel()
                continuation.finish()
            }
        }
        return uploads
    }

    private func issue(upTo due: Int, uploads: AsyncStream<Upload>.Continuation) {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, sends: [SocketSend])] = [:]
        issued.withLock { issued in
            while issued < due {
                let n = issued
                issued += 1
                let chat = chats[n % chats.count]
                let sender = chat.members[(n / chats.count) % chat.members.count]
                let key = MessageKey(number: n, sender: sender)
                let recipients = chat.members.filter { $0 != sender }
                if plan.uploadShare > 0 && Int(Double(n + 1) * plan.uploadShare) > Int(Double(n) * plan.uploadShare) {
                    uploads.yield(Upload(key: key, sender: sender, chat: chat, recipients: recipients))
                    continue
                }
                guard let socket = held[sender] else {
                    recorder.sent(key, recipients: recipients, at: .now)
                    recorder.failed(key, kind: "sender not connected")
                    continue
                }
                let body = bodyStarts[n % chats.count] + Array("\"\(key.text(run: runId))\"}".utf8)
                byLoop[ObjectIdentifier(socket.eventLoop), default: (socket.eventLoop, [])].sends
                    .append(SocketSend(socket: socket, key: key, recipients: recipients, body: body))
            }
        }
        for (loop, sends) in byLoop.values {
            unanswered.withLock { $0 += sends.count }
            if loop.inEventLoop {
                send(sends)
            } else {
                loop.execute { self.send(sends) }
            }
        }
    }

    /// On the sockets' own event loop, where their acks are answered.
    private func send(_ sends: [SocketSend]) {
        for send in sends {
            recorder.sent(send.key, recipients: send.recipients, at: .now)
            send.socket.sendMessage(send.body) { [self] result in
                switch result {
                case .success(.ok): recorder.acked(send.key, upload: false, at: .now)
                case .success(.refused(let code)): recorder.failed(send.key, kind: "ack: \(code)")
                case .failure(let error): recorder.failed(send.key, kind: "ack: \(error)")
                }
                unanswered.withLock { $0 -= 1 }
            }
        }
    }
}
