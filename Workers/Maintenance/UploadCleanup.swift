import Foundation
import Logging
import Metrics
import ParleyCore
import ParleyStore
import Synchronization

/// Removes upload bytes nobody needs: staged files never attached to a message, and stored
/// objects no live message shows any more. Idempotent, and safe while uploads are under way:
/// anything younger than ``grace`` is left alone, and an object is removed under the same lock
/// the media worker takes to store the same bytes.
public struct UploadCleanup: Sendable {
    let database: Database
    let storage: UploadStorage
    /// How old a staged file or an unused file record must be before it is removed.
    public var grace: Duration = .seconds(3600)
    let logger: Logger

    public init(database: Database, storage: UploadStorage, logger: Logger) {
        self.database = database
        self.storage = storage
        self.logger = logger
    }

    /// What one run removed.
    public struct Report: Sendable, Equatable, CustomStringConvertible {
        public var stagedFiles = 0
        public var objects = 0
        public var bytes: Int64 = 0

        public var description: String { "removed \(stagedFiles) staged file(s) and \(objects) stored object(s), \(bytes) bytes" }
    }

    public func runOnce(now: Date = Date()) async throws -> Report {
        let cutoff = now.addingTimeInterval(-Double(grace.components.seconds))
        var report = Report()
        let staged = removeStaged(olderThan: cutoff)
        report.stagedFiles = staged.count
        report.bytes += staged.bytes
        while true {
            let keys = try await database.files.purgeCandidates(before: cutoff)
            var removedAny = false
            for key in keys {
                guard let object = storage.object(key), let thumbnail = storage.object(UploadStorage.thumbnailKey(of: key)) else { continue }
                let freed = Mutex<Int64>(0)
                let removed = try await database.files.purge(key: key, cutoff: cutoff) {
                    freed.withLock { $0 = Self.remove(object) + Self.remove(thumbnail) }
                }
                if removed {
                    removedAny = true
                    report.objects += 1
                    report.bytes += freed.withLock { $0 }
                }
            }
            // A full page of keys that were all still in use would repeat forever.
            if keys.count < 1000 || !removedAny { break }
        }
        Counter(label: "parley_cleanup_removed_total", dimensions: [("kind", "staged")]).increment(by: Int64(report.stagedFiles))
        Counter(label: "parley_cleanup_removed_total", dimensions: [("kind", "object")]).increment(by: Int64(report.objects))
        return report
    }

    /// Staged files last written before `cutoff`: uploads that never made it into a message.
    private func removeStaged(olderThan cutoff: Date) -> (count: Int, bytes: Int64) {
        let files = FileManager.default
        guard let names = try? files.contentsOfDirectory(atPath: storage.stagingDirectory) else { return (0, 0) }
        var count = 0
        var bytes: Int64 = 0
        for name in names {
            let path = "\(storage.stagingDirectory)/\(name)"
            guard let attributes = try? files.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular,
                  let modified = attributes[.modificationDate] as? Date, modified < cutoff
            else { continue }
            if (try? files.removeItem(atPath: path)) != nil {
                count += 1
                bytes += (attributes[.size] as? NSNumber)?.int64Value ?? 0
            }
        }
        return (count, bytes)
    }

    /// Removes a file if it is there; returns the bytes freed.
    private static func remove(_ path: String) -> Int64 {
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        return (try? FileManager.default.removeItem(atPath: path)) != nil ? size : 0
    }
}
