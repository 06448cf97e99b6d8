import Foundation
import ParleyTestSupport
import XCTest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Runs the built `parley` executable as an operator would, and talks HTTP to it.
enum ParleyProcess {
    /// A port for a test's process, drawn from `range`, which must lie below Linux's ephemeral
    /// ports (32768 and up): there the tests' own outgoing connections may hold the port, and
    /// the process would fail to listen (a gateway on 44276 once never became ready).
    static func port(in range: ClosedRange<Int>) -> Int {
        precondition(range.upperBound < 32768, "\(range) reaches the ephemeral ports")
        return Int.random(in: range)
    }

    /// The `parley` built beside this test bundle.
    static var executable: URL {
        var dir = Bundle(for: CLITests.self).bundleURL
        while dir.pathExtension == "xctest" || dir.lastPathComponent.hasSuffix(".xctest") { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent("parley")
    }

    /// - Parameter log: a file under `.run/logs/` to append the output to, instead of a pipe the
    ///   caller must read (a long-running process would block on a full pipe).
    static func launch(_ arguments: [String], environment: [String: String] = [:], log: String? = nil) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = TestServices.root
        process.environment = ProcessInfo.processInfo.environment.merging(["AMQP_URL": TestServices.amqpURL]) { $1 }
            .merging(environment) { $1 }
        let output = Pipe()
        if let log {
            let dir = TestServices.root.appendingPathComponent(".run/logs")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let file = dir.appendingPathComponent(log)
            if !FileManager.default.fileExists(atPath: file.path) { FileManager.default.createFile(atPath: file.path, contents: nil) }
            let handle = try FileHandle(forWritingTo: file)
            handle.seekToEndOfFile()
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = output
            process.standardError = output
        }
        try process.run()
        return (process, output)
    }

    static func runToEnd(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let (process, pipe) = try launch(arguments, environment: environment)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    struct Answer: Sendable {
        let status: Int
        let body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    static func call(_ base: URL, _ method: String, _ path: String, token: String? = nil, body: [String: String]? = nil) async throws -> Answer {
        // `path` may carry a query string, which appendingPathComponent would escape.
        var request = URLRequest(url: URL(string: base.absoluteString + path)!)
        request.httpMethod = method
        request.timeoutInterval = 15
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body { request.httpBody = try JSONSerialization.data(withJSONObject: body) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    /// `POST /api/upload` of one file into `chatId`, as multipart/form-data.
    static func upload(_ base: URL, token: String, chatId: String, file: Data, name: String, type: String) async throws -> Answer {
        let boundary = "parley-cli-\(UUID().uuidString)"
        var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"chatId\"\r\n\r\n\(chatId)\r\n".utf8)
        body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: \(type)\r\n\r\n".utf8)
        body += file + Data("\r\n--\(boundary)--\r\n".utf8)
        var request = URLRequest(url: base.appendingPathComponent("api/upload"))
        request.httpMethod = "POST"
        request.timeoutInterval = 15
        request.setValue("multipart/form-data; boundary=\(boundary)", forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.httpBody = body
        let (data, response) = try await URLSession.shared.data(for: request)
        return Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    /// Waits until the gateway at `base` answers `/readyz` with 200.
    static func waitUntilReady(_ base: URL) async throws {
        try await eventually(timeout: .seconds(30), "the gateway at \(base) never became ready") {
            (try? await call(base, "GET", "/readyz").status) == 200
        }
    }

    /// Two new users and their 1:1 chat: the first one's token, the chat's id and the other's
    /// token.
    static func directChat(on base: URL) async throws -> (token: String, chatId: String, otherToken: String) {
        let a = try await call(base, "POST", "/api/auth/signup", body: [
            "firstName": "A", "lastName": "A", "email": TestServices.uniqueEmail("cli"), "password": "password123"])
        let b = try await call(base, "POST", "/api/auth/signup", body: [
            "firstName": "B", "lastName": "B", "email": TestServices.uniqueEmail("cli"), "password": "password123"])
        XCTAssertEqual(a.status, 201)
        let token = try XCTUnwrap(a.json["token"] as? String)
        let bId = try XCTUnwrap((b.json["user"] as? [String: Any])?["id"] as? String)
        let chat = try await call(base, "POST", "/api/chats", token: token, body: ["userId": bId])
        XCTAssertEqual(chat.status, 201)
        return (token, try XCTUnwrap((chat.json["data"] as? [String: Any])?["id"] as? String), try XCTUnwrap(b.json["token"] as? String))
    }
}
