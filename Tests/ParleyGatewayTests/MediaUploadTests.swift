import Foundation
import HTTPTypes
import ParleyCore
import ParleyMedia
import ParleyTestSupport
import XCTest

/// Uploads through a gateway, a media worker and a message worker, with real files of every kind.
final class MediaUploadTests: XCTestCase {
    func testJPEGWithGPSIsStoredUprightWithoutMetadataAndServedByItsSignedLink() async throws {
        let jpeg = try MediaSamples.jpegWithGPS()
        // The sample really carries what must go: the EXIF block and the orientation.
        XCTAssertNotNil(jpeg.range(of: Data("Exif\0\0".utf8)))
        try await GatewayRig.run(.live, media: .init()) { rig in
            let (a, b, chatId) = try await rig.directChat()
            await rig.recorder.subscribe("parley:user:\(b.id)")
            let reply = try await rig.upload(jpeg, name: "../../holiday.jpg", type: "image/jpeg", chatId: chatId, token: a.token, text: "from the beach")
            XCTAssertEqual(reply.status, .created, reply.text)
            XCTAssertEqual(reply.data["messageType"] as? String, "image")
            let content = reply.content
            XCTAssertEqual(content["text"] as? String, "from the beach")
            XCTAssertEqual(content["mimeType"] as? String, "image/jpeg")
            XCTAssertEqual(content["originalName"] as? String, "holiday.jpg", "the client's path is dropped")
            let dimensions = try XCTUnwrap(content["dimensions"] as? [String: Int])
            XCTAssertEqual(dimensions["width"], 1200, "turned upright from orientation 6")
            XCTAssertEqual(dimensions["height"], 1600)
            let fileUrl = try XCTUnwrap(content["fileUrl"] as? String)
            let thumbnail = try XCTUnwrap(content["thumbnail"] as? String)
            XCTAssertTrue(fileUrl.contains("?exp=") && fileUrl.contains("&sig="), fileUrl)

            // No token: the signed link alone opens it.
            let file = try await rig.fetch(fileUrl)
            XCTAssertEqual(file.status, .ok)
            XCTAssertEqual(file.headers[.contentType], "image/jpeg")
            XCTAssertEqual(file.headers[HTTPField.Name("X-Content-Type-Options")!], "nosniff")
            XCTAssertEqual(file.headers[HTTPField.Name("Content-Security-Policy")!], "default-src 'none'; sandbox")
            XCTAssertEqual(file.headers[HTTPField.Name("Content-Disposition")!], "inline; filename=\"holiday.jpg\"; filename*=UTF-8''holiday.jpg")
            XCTAssertEqual(content["fileSize"] as? Int, file.body.count)
            XCTAssertNil(file.body.range(of: Data("Exif".utf8)), "EXIF (with GPS) is stripped")
            let size = try await Self.probe(file.body, "jpg")
            XCTAssertEqual(size.width, 1200)
            XCTAssertEqual(size.height, 1600)

            let thumb = try await rig.fetch(thumbnail)
            XCTAssertEqual(thumb.status, .ok)
            XCTAssertEqual(thumb.headers[.contentType], "image/webp")
            let thumbSize = try await Self.probe(thumb.body, "webp")
            XCTAssertEqual(thumbSize.width, 150)
            XCTAssertEqual(thumbSize.height, 200)

            // The other member's sockets get the message with its file.
            let event = await rig.recorder.next(UserEvent.self, on: "parley:user:\(b.id)")
            guard case .messageReceived(let message) = event else { return XCTFail("no message_received: \(String(describing: event))") }
            XCTAssertEqual(message.content.dimensions, .init(width: 1200, height: 1600))
            XCTAssertNotNil(message.content.thumbnail)
            XCTAssertTrue(rig.stagedFiles.isEmpty, "\(rig.stagedFiles)")

            let metrics = String(decoding: try await rig.request(.get, "/metrics").body, as: UTF8.self)
            for name in ["parley_uploads_total", "parley_upload_bytes_stored_total", "parley_media_thumbnail_seconds_count", "parley_media_processing_seconds_count"] {
                XCTAssertGreaterThan(OperationsTests.value(of: name, in: metrics) ?? 0, 0, "\(name) missing or zero")
            }
        }
    }

    func testEveryAllowedKindBecomesAMessageOfItsRealType() async throws {
        let samples: [(Data, String, String?, String, String, Bool)] = [
            (try await MediaSamples.converted(to: "png"), "a.png", "image/png", "image/png", "image", true),
            (try await MediaSamples.converted(to: "gif"), "a.gif", "image/gif", "image/gif", "image", true),
            (try await MediaSamples.converted(to: "webp"), "a.webp", nil, "image/webp", "image", true),
            (MediaSamples.pdf(), "report.pdf", "application/pdf", "application/pdf", "file", true),
            (MediaSamples.utf8Text, "notes.txt", "text/plain; charset=utf-8", "text/plain", "file", false),
        ]
        try await GatewayRig.run(.live, media: .init()) { rig in
            let (a, b, chatId) = try await rig.directChat()
            for (data, name, declared, mime, kind, hasThumbnail) in samples {
                let reply = try await rig.upload(data, name: name, type: declared, chatId: chatId, token: a.token)
                XCTAssertEqual(reply.status, .created, "\(name): \(reply.text)")
                XCTAssertEqual(reply.data["messageType"] as? String, kind, name)
                XCTAssertEqual(reply.content["mimeType"] as? String, mime, name)
                XCTAssertEqual(reply.content["thumbnail"] != nil, hasThumbnail, name)
                if mime.hasPrefix("image/") {
                    let dimensions = reply.content["dimensions"] as? [String: Int]
                    XCTAssertEqual(dimensions?["width"], 1600, name)
                }
                // The other member, by bearer token, through the plain path.
                let fileId = try XCTUnwrap((reply.content["fileUrl"] as? String)?.split(separator: "?").first)
                let file = try await rig.fetch(String(fileId), token: b.token)
                XCTAssertEqual(file.status, .ok, name)
                XCTAssertEqual(file.headers[.contentType], mime, name)
                let disposition = file.headers[HTTPField.Name("Content-Disposition")!] ?? ""
                XCTAssertTrue(disposition.hasPrefix(mime.hasPrefix("image/") ? "inline" : "attachment"), "\(name): \(disposition)")
                if mime == "text/plain" || mime == "application/pdf" { XCTAssertEqual(file.body, data, name) }
            }
            let history = try await rig.request(.get, "/api/messages/\(chatId)", token: a.token)
            XCTAssertEqual((history.json["data"] as? [[String: Any]])?.count, samples.count)
        }
    }

    func testRefusedUploadsNeverBecomeMessagesAndLeaveNothingBehind() async throws {
        let photo = try MediaSamples.photo()
        let refusals: [(Data, String, String?, Int, String)] = [
            (MediaSamples.html, "cute.png", "image/png", 415, "HTML named .png"),
            (try MediaSamples.executable(), "cute.png", "image/png", 415, "an executable named .png"),
            (MediaSamples.svgWithScript, "logo.svg", "image/svg+xml", 415, "SVG with a script"),
            (photo, "photo.png", "image/png", 415, "a JPEG declared as PNG"),
            (MediaSamples.latin1Text, "old.txt", "text/plain", 415, "text that is not UTF-8"),
            (photo.prefix(photo.count / 3), "cut.jpg", "image/jpeg", 422, "a truncated JPEG"),
        ]
        try await GatewayRig.run(.live, media: .init()) { rig in
            let (a, _, chatId) = try await rig.directChat()
            for (data, name, type, status, what) in refusals {
                let reply = try await rig.upload(data, name: name, type: type, chatId: chatId, token: a.token)
                XCTAssertEqual(Int(reply.status.code), status, "\(what): \(reply.text)")
                XCTAssertEqual(reply.code, status == 415 ? "unsupported_media_type" : "unprocessable", what)
            }
            let history = try await rig.request(.get, "/api/messages/\(chatId)", token: a.token)
            XCTAssertEqual((history.json["data"] as? [[String: Any]])?.count, 0, "nothing refused became a message")
            XCTAssertTrue(rig.stagedFiles.isEmpty, "\(rig.stagedFiles)")
        }
    }

    func testADecompressionBombIsRefusedFromItsHeader() async throws {
        let bomb = try await MediaSamples.pngBomb()
        XCTAssertLessThan(bomb.count, 2_000_000, "small on the wire")
        try await GatewayRig.run(.live, media: .init()) { rig in
            let (a, _, chatId) = try await rig.directChat()
            let start = ContinuousClock.now
            let reply = try await rig.upload(bomb, name: "bomb.png", type: "image/png", chatId: chatId, token: a.token)
            XCTAssertEqual(reply.status, .unprocessableContent, reply.text)
            XCTAssertTrue(reply.text.contains("30000"), reply.text)
            XCTAssertLessThan(ContinuousClock.now - start, .seconds(5))
            XCTAssertTrue(rig.stagedFiles.isEmpty)
        }
    }

    func testAFileOverTheLimitIs413WhileStreamingAndLeavesNothingStaged() async throws {
        // A limit of 1 MiB, not the default 10: a debug build parses a form at about a megabyte a
        // second, and three 10 MiB uploads came near the test client's 20 s wait for an answer.
        let limit = 1_048_576
        try await GatewayRig.run(.live, media: .init(maxFileSize: limit)) { rig in
            let (a, _, chatId) = try await rig.directChat()
            // Within the whole-body allowance, so the file part's own count must catch it.
            let justOver = Data(repeating: 0x41, count: limit + 1)
            var reply = try await rig.upload(justOver, name: "big.txt", type: "text/plain", chatId: chatId, token: a.token)
            XCTAssertEqual(reply.status, .contentTooLarge, reply.text)
            // Past the whole-body allowance (the limit and 64 KiB for the form): refused by its length.
            let past = Data(repeating: 0x41, count: limit + 256 * 1024)
            reply = try await rig.upload(past, name: "big.txt", type: "text/plain", chatId: chatId, token: a.token)
            XCTAssertEqual(reply.status, .contentTooLarge, reply.text)
            XCTAssertTrue(rig.stagedFiles.isEmpty, "\(rig.stagedFiles)")
            // Exactly at the limit is fine.
            let atLimit = Data(repeating: 0x41, count: limit)
            reply = try await rig.upload(atLimit, name: "limit.txt", type: "text/plain", chatId: chatId, token: a.token)
            XCTAssertEqual(reply.status, .created, reply.text)
            XCTAssertEqual(reply.content["fileSize"] as? Int, limit)
        }
    }

    func testAnUploadCutOffMidwayLeavesNothingStagedAndIsCountedAsTheClientsFault() async throws {
        try await GatewayRig.run(.live, media: .init()) { rig in
            let (a, _, chatId) = try await rig.directChat()
            let start = "--b\r\nContent-Disposition: form-data; name=\"chatId\"\r\n\r\n\(chatId)\r\n"
                + "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.txt\"\r\n\r\n"
                + String(repeating: "a line of a file that never ends\r\n", count: 1000)
            try await RawHTTPClient.withConnection(port: rig.client.port!) { client in
                try await client.send(head: "POST /api/upload", headers: [
                    "Authorization: Bearer \(a.token)", "Content-Type: multipart/form-data; boundary=b", "Content-Length: 1000000",
                ])
                try await client.send(start)
                try await Self.waitUntil("the upload is being staged") { !rig.filesOpenInStaging.isEmpty }
            }
            // The client went away: what it sent goes, and the failure is its own (a 400 nobody reads), not a 500.
            try await Self.waitUntil("the staged part is let go") { rig.filesOpenInStaging.isEmpty }
            XCTAssertEqual(rig.stagedFiles, [])
            try await Self.waitUntil("the request is counted") {
                let metrics = String(decoding: try await rig.request(.get, "/metrics").body, as: UTF8.self)
                let upload = metrics.split(separator: "\n").filter { $0.hasPrefix(#"parley_http_requests_total{http_route="/api/upload""#) }
                XCTAssertFalse(upload.contains { $0.contains(#"http_response_status_code="500""#) }, "\(upload)")
                return upload.contains { $0.contains(#"http_response_status_code="400""#) }
            }
        }
    }

    static func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { return XCTFail("not within 10 s: \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func testMissingPartsAndStrangersAreRefusedBeforeAnythingIsQueued() async throws {
        try await GatewayRig.run(.live, media: .init()) { rig in
            let (a, _, chatId) = try await rig.directChat()
            let stranger = try await rig.signup("Stranger")
            let text = MediaSamples.utf8Text
            var reply = try await rig.upload(token: a.token, [.field("chatId", chatId)])
            XCTAssertEqual(reply.status, .badRequest, reply.text)
            reply = try await rig.upload(token: a.token, [.file(text, name: "a.txt", type: "text/plain")])
            XCTAssertEqual(reply.status, .badRequest, reply.text)
            reply = try await rig.upload(token: a.token, [.field("chatId", "../../etc"), .file(text, name: "a.txt", type: "text/plain")])
            XCTAssertEqual(reply.status, .badRequest, reply.text)
            reply = try await rig.upload(text, name: "a.txt", type: "text/plain", chatId: chatId, token: stranger.token)
            XCTAssertEqual(reply.status, .forbidden, reply.text)
            // The chat id after the file: checked once the file is in, and the file removed.
            reply = try await rig.upload(token: stranger.token, [.file(text, name: "a.txt", type: "text/plain"), .field("chatId", chatId)])
            XCTAssertEqual(reply.status, .forbidden, reply.text)
            reply = try await rig.upload(text, name: "a.txt", type: "text/plain", chatId: chatId, token: "")
            XCTAssertEqual(reply.status, .unauthorized, reply.text)
            let plain = try await rig.request(.post, "/api/upload", token: a.token, json: ["chatId": chatId])
            XCTAssertEqual(plain.status, .badRequest, plain.text)
            // A caption is held to a message's text: its length, no NUL.
            let long = String(repeating: "é", count: Limits.messageText + 1)
            reply = try await rig.upload(text, name: "a.txt", type: "text/plain", chatId: chatId, token: a.token, text: long)
            XCTAssertEqual(reply.status, .badRequest, reply.text)
            XCTAssertTrue(reply.text.contains("text must be at most"), reply.text)
            reply = try await rig.upload(text, name: "a.txt", type: "text/plain", chatId: chatId, token: a.token, text: "a\u{0}b")
            XCTAssertEqual(reply.status, .badRequest, reply.text)
            XCTAssertTrue(reply.text.contains("text must not contain the NUL character"), reply.text)
            XCTAssertTrue(rig.stagedFiles.isEmpty, "\(rig.stagedFiles)")
        }
    }

    func testFileAccessNeedsAMemberOrAValidSignatureAndEndsWithTheMessage() async throws {
        try await GatewayRig.run(.live, media: .init()) { rig in
            let (a, b, chatId) = try await rig.directChat()
            let stranger = try await rig.signup("Stranger")
            let reply = try await rig.upload(try await MediaSamples.converted(to: "png"), name: "a.png", type: "image/png", chatId: chatId, token: a.token)
            XCTAssertEqual(reply.status, .created, reply.text)
            let signed = try XCTUnwrap(reply.content["fileUrl"] as? String)
            let thumbnail = try XCTUnwrap(reply.content["thumbnail"] as? String)
            let path = String(signed.split(separator: "?")[0])
            let fileId = try XCTUnwrap(UUID(uuidString: String(path.split(separator: "/").last!)))

            var status = try await rig.fetch(path).status
            XCTAssertEqual(status, .unauthorized)
            status = try await rig.fetch(path, token: stranger.token).status
            XCTAssertEqual(status, .forbidden)
            status = try await rig.fetch(path, token: b.token).status
            XCTAssertEqual(status, .ok)
            // Tampered, moved to another variant, expired.
            let query = signed.split(separator: "?")[1]
            let tampered = signed.replacingOccurrences(of: "sig=", with: "sig=A")
            status = try await rig.fetch(tampered).status
            XCTAssertEqual(status, .forbidden)
            status = try await rig.fetch("\(path)/thumbnail?\(query)").status
            XCTAssertEqual(status, .forbidden, "a link to the file does not open its thumbnail")
            let later = try XCTUnwrap(thumbnail.split(separator: "?").last)
            status = try await rig.fetch("\(path)?\(later)").status
            XCTAssertEqual(status, .forbidden, "nor the other way round")
            let old = TestServices.fileLinks.url(fileId: fileId, variant: .original, now: Date().addingTimeInterval(-7200))
            let expired = try await rig.fetch(old)
            XCTAssertEqual(expired.status, .forbidden)
            XCTAssertTrue(expired.text.contains("expired"), expired.text)
            let otherKey = FileLinks(secret: "another-secret-0123456789abcdef-01234", lifetime: .seconds(3600))
            status = try await rig.fetch(otherKey.url(fileId: fileId, variant: .original)).status
            XCTAssertEqual(status, .forbidden)
            // Ids are checked; no path is built from them.
            for bad in ["not-an-id", "..%2F..%2Fetc%2Fpasswd", "%2e%2e"] {
                let status = try await rig.fetch("/api/files/\(bad)", token: a.token).status
                XCTAssertTrue([.badRequest, .notFound].contains(status), "\(bad): \(status)")
            }
            status = try await rig.fetch("/api/files/\(UUIDv7.make().lowercased)", token: a.token).status
            XCTAssertEqual(status, .notFound)

            let messageId = try XCTUnwrap(reply.data["id"] as? String)
            let deleted = try await rig.request(.delete, "/api/messages/\(messageId)", token: a.token)
            XCTAssertEqual(deleted.status, .ok)
            XCTAssertNil(deleted.content["fileUrl"], "a deleted message loses its file")
            status = try await rig.fetch(signed).status
            XCTAssertEqual(status, .gone)
            status = try await rig.fetch(path, token: b.token).status
            XCTAssertEqual(status, .gone)
        }
    }

    func testRangesAndETags() async throws {
        try await GatewayRig.run(.live, media: .init()) { rig in
            let (a, _, chatId) = try await rig.directChat()
            let pdf = MediaSamples.pdf()
            let reply = try await rig.upload(pdf, name: "rapport d’été.pdf", type: "application/pdf", chatId: chatId, token: a.token)
            XCTAssertEqual(reply.status, .created, reply.text)
            let url = try XCTUnwrap(reply.content["fileUrl"] as? String)

            let whole = try await rig.fetch(url)
            XCTAssertEqual(whole.body, pdf)
            XCTAssertEqual(whole.headers[.acceptRanges], "bytes")
            XCTAssertEqual(
                whole.headers[HTTPField.Name("Content-Disposition")!],
                "attachment; filename=\"rapport d__t_.pdf\"; filename*=UTF-8''rapport%20d%E2%80%99%C3%A9t%C3%A9.pdf")
            let etag = try XCTUnwrap(whole.headers[.eTag])

            var part = try await rig.fetch(url, headers: [.range: "bytes=0-99"])
            XCTAssertEqual(part.status, .partialContent)
            XCTAssertEqual(part.body, pdf.prefix(100))
            XCTAssertEqual(part.headers[.contentRange], "bytes 0-99/\(pdf.count)")
            part = try await rig.fetch(url, headers: [.range: "bytes=-10"])
            XCTAssertEqual(part.body, pdf.suffix(10))
            part = try await rig.fetch(url, headers: [.range: "bytes=100-"])
            XCTAssertEqual(part.body, pdf.dropFirst(100))
            part = try await rig.fetch(url, headers: [.range: "bytes=\(pdf.count + 10)-"])
            XCTAssertEqual(part.status, .rangeNotSatisfiable)
            XCTAssertEqual(part.headers[.contentRange], "bytes */\(pdf.count)")
            part = try await rig.fetch(url, headers: [.range: "bytes=0-1,5-6"])
            XCTAssertEqual(part.status, .ok, "several ranges: the whole file")
            XCTAssertEqual(part.body, pdf)
            part = try await rig.fetch(url, headers: [.range: "bytes=0-9", .ifRange: "\"stale\""])
            XCTAssertEqual(part.status, .ok, "If-Range with another tag: the whole file")

            let cached = try await rig.fetch(url, headers: [.ifNoneMatch: etag])
            XCTAssertEqual(cached.status, .notModified)
            XCTAssertTrue(cached.body.isEmpty)
            let changed = try await rig.fetch(url, headers: [.ifNoneMatch: "\"other\""])
            XCTAssertEqual(changed.status, .ok)

            // HEAD: what GET says, without the bytes.
            let head = try await rig.client.execute(uri: url, method: .head, headers: [:], body: nil) { response in
                GatewayRig.Reply(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
            }
            XCTAssertEqual(head.status, .ok)
            XCTAssertEqual(head.headers[.contentLength], String(pdf.count))
            XCTAssertEqual(head.headers[.contentType], "application/pdf")
            XCTAssertEqual(head.headers[.eTag], etag)
            XCTAssertTrue(head.body.isEmpty)
            let unsigned = try await rig.client.execute(uri: url.components(separatedBy: "?")[0], method: .head, headers: [:], body: nil) { $0.status }
            XCTAssertEqual(unsigned, .unauthorized)
        }
    }

    func testTheSameBytesAreStoredOnce() async throws {
        try await GatewayRig.run(.live, media: .init()) { rig in
            let (a, b, chatId) = try await rig.directChat()
            let png = try await MediaSamples.converted(to: "png")
            let first = try await rig.upload(png, name: "a.png", type: "image/png", chatId: chatId, token: a.token)
            let second = try await rig.upload(png, name: "b.png", type: "image/png", chatId: chatId, token: b.token)
            XCTAssertEqual(first.status, .created)
            XCTAssertEqual(second.status, .created)
            XCTAssertNotEqual(first.content["fileUrl"] as? String, second.content["fileUrl"] as? String)
            XCTAssertEqual(second.content["originalName"] as? String, "b.png")
            let objects = FileManager.default.enumerator(atPath: rig.dependencies.uploads.objectsDirectory)?
                .compactMap { $0 as? String }.filter { $0.split(separator: "/").count == 3 } ?? []
            XCTAssertEqual(objects.count, 2, "one object and its thumbnail: \(objects)")
        }
    }

    /// The dimensions libvips reads from served bytes.
    private static func probe(_ data: Data, _ suffix: String) async throws -> ImageProcessor.Header {
        let path = MediaSamples.temporaryPath(suffix)
        try data.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await GatewayRig.images.get().probe(fileAt: path)
    }
}
