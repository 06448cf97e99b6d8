import Crypto
import Foundation
import Logging
import Metrics
import ParleyCore
import ParleyMedia
import ParleyPubSub
import ParleyQueue
import ParleyStore
import ServiceLifecycle
import Synchronization

/// Turns staged uploads (`media.process` from `parley.media`) into stored files, then hands a
/// `message.create` for each on to the message worker, under the same command id, so the
/// gateway's wait for that id ends with the stored message.
///
/// An upload the checks refuse is deleted and the gateway told why (415/422); it never becomes a
/// message. A redelivery of an upload already stored only hands its message on again.
public final class MediaWorker: Service, Sendable {
    private let consumer: QueueConsumer
    private let publisher: QueuePublisher
    private let failed: FailedCommands
    private let database: Database
    private let redis: RedisClient
    private let processor: MediaProcessor
    private let storage: UploadStorage
    private let concurrency: Int
    private let logger: Logger

    private let processing = Timer(label: "parley_media_processing_seconds", preferredDisplayUnit: .seconds)
    private let thumbnailing = Timer(label: "parley_media_thumbnail_seconds", preferredDisplayUnit: .seconds)
    private let bytesStored = Counter(label: "parley_upload_bytes_stored_total")
    private let applied = Counter(label: "parley_commands_applied_total", dimensions: [("queue", Queues.media)])

    /// - Parameters:
    ///   - consumer: a consumer of ``Queues/media``; the worker starts and stops it.
    ///   - publisher: hands messages on, retries and parks; run by the caller.
    ///   - concurrency: uploads checked at once (libvips work is bounded by the processor's pool).
    public init(
        consumer: QueueConsumer, publisher: QueuePublisher, database: Database, redis: RedisClient, processor: MediaProcessor,
        storage: UploadStorage, concurrency: Int = ProcessInfo.processInfo.activeProcessorCount * 2, logger: Logger
    ) {
        self.consumer = consumer
        self.publisher = publisher
        self.failed = FailedCommands(consumer: consumer, publisher: publisher, logger: logger)
        self.database = database
        self.redis = redis
        self.processor = processor
        self.storage = storage
        self.concurrency = max(1, concurrency)
        self.logger = logger
    }

    public func run() async throws {
        try storage.prepare()
        await consumer.run(concurrency: concurrency) { delivery in await self.handle(delivery) }
    }

    private func handle(_ delivery: Delivery) async {
        guard let (command, reply) = await failed.settle(delivery, apply) else { return }
        applied.increment()
        // Refusals are answered here; stored uploads by the message worker.
        if let reply, let node = command.replyTo, let body = try? [UInt8](JSON.encode(reply)) {
            do {
                _ = try await redis.publish(body, to: Channels.node(node))
            } catch {
                logger.warning("cannot reply to the gateway", metadata: ["node": "\(node)", "error": "\(error)"])
            }
        }
    }

    /// Checks and stores one upload and hands its message on; returns the refusal to send back,
    /// if refused. Throws for a passing failure (retry).
    public func apply(_ command: Command) async throws -> CommandReply? {
        guard case .mediaProcess(let job) = command.payload else {
            throw MisroutedCommand(type: command.type, worker: "media")
        }
        if let stored = try await database.files.exists(id: job.uploadId) {
            try await handOn(command, job, stored)
            return nil
        }
        let staged = storage.staged(job.uploadId)
        guard FileManager.default.fileExists(atPath: staged) else {
            return refuse(command, ParleyError(.badRequest, "The upload is no longer staged; send it again"), reason: "expired")
        }
        let started = DispatchTime.now()
        let checked: CheckedMedia
        do {
            checked = try await processor.check(stagedAt: staged, declaredType: job.declaredType) { self.storage.derived(job.uploadId, $0) }
        } catch let error as MediaError {
            guard let refusal = error.refusal else { throw error }
            await discard(job.uploadId)
            logger.info("upload refused", metadata: ["upload": "\(job.uploadId)", "why": "\(error)"])
            return refuse(command, refusal, reason: Self.reason(error))
        }
        let (sha256, size) = checked.rewritten ? try await digest(of: checked.path) : (job.sha256, job.size)
        let file = StoredFile(
            id: job.uploadId, sha256: sha256, size: size, mimeType: checked.mimeType, dimensions: checked.dimensions,
            hasThumbnail: checked.thumbnailPath != nil, originalName: job.originalName, uploaderId: job.senderId)
        let (objects, images) = (storage, processor.images)
        let isNew = Mutex(false)
        try await database.files.store(file, thumbnailKey: checked.thumbnailPath.map { _ in UploadStorage.thumbnailKey(of: sha256) }) {
            let placed = try await images.run { try Self.place(checked, key: sha256, in: objects) }
            isNew.withLock { $0 = placed }
        }
        await discard(job.uploadId)
        processing.recordInterval(since: started)
        if let time = checked.thumbnailTime { thumbnailing.record(duration: time) }
        if isNew.withLock({ $0 }) { bytesStored.increment(by: Int64(size)) }
        Counter(label: "parley_uploads_total", dimensions: [("outcome", "stored")]).increment()
        try await handOn(command, job, file)
        return nil
    }

    /// Publishes the upload's `message.create` under the command's own id and reply address.
    private func handOn(_ command: Command, _ job: MediaProcess, _ file: StoredFile) async throws {
        let create = MessageCreate(
            messageId: job.messageId, chatId: job.chatId, senderId: job.senderId, messageType: StoredFile.messageType(of: file.mimeType),
            text: job.text, clientMessageId: job.clientMessageId, fileId: file.id)
        let next = Command(id: command.id, replyTo: command.replyTo, payload: .messageCreate(create))
        try await publisher.publish([UInt8](JSON.encode(next)), routingKey: next.type.rawValue, messageId: next.id.uppercased)
    }

    private func refuse(_ command: Command, _ error: ParleyError, reason: String) -> CommandReply {
        Counter(label: "parley_uploads_total", dimensions: [("outcome", reason)]).increment()
        return CommandReply(commandId: command.id, outcome: .failed(error))
    }

    static func reason(_ error: MediaError) -> String {
        switch error {
        case .notAllowed: "type_not_allowed"
        case .mismatch: "type_mismatch"
        case .notUTF8: "not_utf8"
        case .tooManyPixels: "too_many_pixels"
        case .corrupt: "corrupt"
        case .unreadable: "unreadable"
        }
    }

    /// Moves the checked bytes (and thumbnail) to the object of `key`, unless the same bytes are
    /// stored already. The thumbnail goes first, so an object never lacks the thumbnail its rows
    /// name.
    /// - Returns: whether the object is new.
    static func place(_ checked: CheckedMedia, key: String, in storage: UploadStorage) throws -> Bool {
        guard let object = storage.object(key) else { throw MediaError.unreadable("not an object key: \(key)") }
        let files = FileManager.default
        try files.createDirectory(atPath: (object as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if let thumbnail = checked.thumbnailPath, let target = storage.object(UploadStorage.thumbnailKey(of: key)) {
            _ = try move(thumbnail, to: target)
        }
        return try move(checked.path, to: object)
    }

    private static func move(_ source: String, to target: String) throws -> Bool {
        if FileManager.default.fileExists(atPath: target) {
            try? FileManager.default.removeItem(atPath: source)
            return false
        }
        guard rename(source, target) == 0 else {
            throw MediaError.unreadable("cannot move \(source) to \(target): \(String(cString: strerror(errno)))")
        }
        return true
    }

    /// Removes what is left of an upload in staging: the upload and every file derived from it.
    private func discard(_ uploadId: UUID) async {
        let storage = self.storage
        _ = try? await processor.images.run {
            let prefix = uploadId.lowercased
            let names = (try? FileManager.default.contentsOfDirectory(atPath: storage.stagingDirectory)) ?? []
            for name in names where name.hasPrefix(prefix) {
                try? FileManager.default.removeItem(atPath: "\(storage.stagingDirectory)/\(name)")
            }
        }
    }

    /// SHA-256 (hex) and size of a file, read in chunks off the event loops.
    private func digest(of path: String) async throws -> (String, Int) {
        try await processor.images.run {
            guard let handle = FileHandle(forReadingAtPath: path) else { throw MediaError.unreadable("cannot open \(path)") }
            defer { try? handle.close() }
            var hasher = SHA256()
            var size = 0
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                hasher.update(data: chunk)
                size += chunk.count
            }
            return (hasher.finalize().hex, size)
        }
    }
}
