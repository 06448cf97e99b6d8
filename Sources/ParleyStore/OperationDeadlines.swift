import Synchronization

/// Store operations that fail at their deadline even when PostgreSQL stops answering.
///
/// A query on a connection whose server stalls (a stopped process, a network that drops
/// packets) does not notice its task's cancellation, and a task group waits for every child: a
/// timeout raced against the query in a group only fired once the stalled query came back.
/// Here the operation runs in a task of its own and its caller waits on a continuation, resumed
/// once by whichever comes first: the operation, its cancellation or the sweep that ends overdue
/// operations. A late operation is cancelled and its result dropped. One sweep serves every
/// operation, so an operation costs no timer (a sleeping task per operation was a timer set and
/// cancelled on libdispatch's manager thread, which woke for each).
final class OperationDeadlines: Sendable {
    private struct Entry {
        let deadline: ContinuousClock.Instant
        let expire: @Sendable () -> Void
    }

    private let entries = Mutex<(next: UInt64, running: [UInt64: Entry])>((0, [:]))
    /// Where the operations' tasks run; the shared pool if nil.
    private let executor: (any TaskExecutor)?

    init(executor: (any TaskExecutor)?) {
        self.executor = executor
    }

    /// Runs `body`, failing with `timedOut` once `timeout` has passed without its answer.
    func run<T: Sendable>(
        within timeout: Duration, timedOut: @autoclosure @escaping @Sendable () -> any Error,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let operation = Operation<T>()
        let id = entries.withLock { entries in
            let id = entries.next
            entries.next += 1
            entries.running[id] = Entry(deadline: .now + timeout) { operation.end(.failure(timedOut()), cancel: true) }
            return id
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                operation.wait(continuation)
                operation.started(Task(executorPreference: executor) {
                    let result: Result<T, any Error>
                    do { result = .success(try await body()) } catch { result = .failure(error) }
                    self.forget(id)
                    operation.end(result, cancel: false)
                })
            }
        } onCancel: {
            forget(id)
            operation.end(.failure(CancellationError()), cancel: true)
        }
    }

    /// Ends the operations past their deadline, every `interval` until the task is cancelled.
    func sweep(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            endOverdue()
        }
    }

    func endOverdue() {
        let now = ContinuousClock.now
        let overdue = entries.withLock { entries in
            let overdue = entries.running.filter { $0.value.deadline <= now }
            for id in overdue.keys { entries.running.removeValue(forKey: id) }
            return overdue.values.map(\.expire)
        }
        for expire in overdue { expire() }
    }

    private func forget(_ id: UInt64) {
        entries.withLock { _ = $0.running.removeValue(forKey: id) }
    }
}

/// One operation's caller and task; the first outcome wins, the others are dropped.
private final class Operation<T: Sendable>: Sendable {
    private struct State {
        var caller: CheckedContinuation<T, any Error>?
        var task: Task<Void, Never>?
        /// An outcome that came before the caller began to wait (a cancellation).
        var early: Result<T, any Error>?
        var ended = false
    }

    private let state = Mutex(State())

    func wait(_ caller: CheckedContinuation<T, any Error>) {
        let early: Result<T, any Error>? = state.withLock { state in
            guard let early = state.early else {
                state.caller = caller
                return nil
            }
            return early
        }
        if let early { caller.resume(with: early) }
    }

    func started(_ task: Task<Void, Never>) {
        let ended = state.withLock { state in
            if !state.ended { state.task = task }
            return state.ended
        }
        if ended { task.cancel() }
    }

    /// Resumes the caller with `outcome` unless something else already did; `cancel` also
    /// cancels the operation's task.
    func end(_ outcome: Result<T, any Error>, cancel: Bool) {
        let (caller, task): (CheckedContinuation<T, any Error>?, Task<Void, Never>?) = state.withLock { state in
            guard !state.ended else { return (nil, nil) }
            state.ended = true
            if state.caller == nil { state.early = outcome }
            defer { state.caller = nil; state.task = nil }
            return (state.caller, state.task)
        }
        caller?.resume(with: outcome)
        if cancel { task?.cancel() }
    }
}
