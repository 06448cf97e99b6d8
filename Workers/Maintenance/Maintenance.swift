import Foundation
import Logging
import ParleyCore
import ParleyStore
import ServiceLifecycle

/// The maintenance worker: runs the scheduled jobs (upload clean-up) every `interval`, the first
/// time shortly after start; stops at once on shutdown.
public final class Maintenance: Service, Sendable {
    private let cleanup: UploadCleanup
    private let interval: Duration
    private let logger: Logger

    public init(cleanup: UploadCleanup, interval: Duration = .seconds(600), logger: Logger) {
        self.cleanup = cleanup
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await jobs()
        } catch is CancellationError {}
    }

    private func jobs() async throws {
        try await cancelWhenGracefulShutdown {
            try await Task.sleep(for: .seconds(10))
            while !Task.isCancelled {
                do {
                    let report = try await self.cleanup.runOnce()
                    if report.stagedFiles + report.objects > 0 { self.logger.info("upload clean-up: \(report)") }
                } catch {
                    self.logger.warning("upload clean-up failed; next run in \(self.interval)", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: self.interval)
            }
        }
    }
}
