import Foundation
import Maintenance
import ParleyCore
import ParleyTestSupport
import XCTest

/// Clean-up over real uploads: what goes, what stays, and that a second run changes nothing.
final class UploadCleanupTests: XCTestCase {
    func testCleanupRemovesOnlyWhatNothingNeeds() async throws {
        try await GatewayRig.run(.live, media: .init()) { rig in
            let (a, b, chatId) = try await rig.directChat()
            let storage = rig.dependencies.uploads
            let kept = try await rig.upload(try await MediaSamples.converted(to: "png"), name: "kept.png", type: "image/png", chatId: chatId, token: a.token)
            let dropped = try await rig.upload(MediaSamples.pdf(note: UUID().uuidString), name: "dropped.pdf", type: "application/pdf", chatId: chatId, token: a.token)
            // The same bytes in a live message and a deleted one: the object stays. Bytes of
            // their own, as the database is shared with other tests' uploads.
            let text = MediaSamples.utf8Text + Data(UUID().uuidString.utf8)
            let shared = try await rig.upload(text, name: "shared.txt", type: "text/plain", chatId: chatId, token: a.token)
            let sharedDeleted = try await rig.upload(text, name: "again.txt", type: "text/plain", chatId: chatId, token: b.token)
            for reply in [kept, dropped, shared, sharedDeleted] { XCTAssertEqual(reply.status, .created, reply.text) }
            for (reply, token) in [(dropped, a.token), (sharedDeleted, b.token)] {
                let deleted = try await rig.request(.delete, "/api/messages/\(try XCTUnwrap(reply.data["id"] as? String))", token: token)
                XCTAssertEqual(deleted.status, .ok, deleted.text)
            }
            // A staged upload from long ago, and one under way.
            let old = storage.staged(UUIDv7.make())
            let fresh = storage.staged(UUIDv7.make())
            try Data("old".utf8).write(to: URL(fileURLWithPath: old))
            try Data("fresh".utf8).write(to: URL(fileURLWithPath: fresh))
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: old)

            let objectsBefore = Self.objects(in: storage)
            XCTAssertEqual(objectsBefore.count, 5, "png + thumbnail, pdf + thumbnail, text: \(objectsBefore)")
            var cleanup = UploadCleanup(database: rig.database, storage: storage, logger: TestServices.logger("cleanup"))
            // Uploads younger than the grace period stay whatever happened to their messages.
            let early = try await cleanup.runOnce()
            XCTAssertEqual(early.objects, 0)
            XCTAssertEqual(early.stagedFiles, 1)
            XCTAssertFalse(FileManager.default.fileExists(atPath: old))
            XCTAssertTrue(FileManager.default.fileExists(atPath: fresh))

            cleanup.grace = .zero
            let report = try await cleanup.runOnce(now: Date().addingTimeInterval(1))
            XCTAssertEqual(report.objects, 1, "only the PDF (and its thumbnail) is unused")
            XCTAssertEqual(Self.objects(in: storage).count, 3)
            let again = try await cleanup.runOnce(now: Date().addingTimeInterval(1))
            XCTAssertEqual(again.objects, 0, "a second run finds nothing")

            for (reply, token, status) in [(kept, b.token, 200), (shared, b.token, 200), (dropped, a.token, 410), (sharedDeleted, a.token, 410)] {
                let url = try XCTUnwrap(reply.content["fileUrl"] as? String)
                let fetched = try await rig.fetch(url, token: token)
                XCTAssertEqual(Int(fetched.status.code), status, reply.content["originalName"] as? String ?? "")
            }
        }
    }

    static func objects(in storage: UploadStorage) -> [String] {
        (FileManager.default.enumerator(atPath: storage.objectsDirectory)?.compactMap { $0 as? String } ?? [])
            .filter { $0.split(separator: "/").count == 3 }
    }
}
