import ArgumentParser
import Foundation
import ParleyCore
import ParleyMedia

/// Thumbnails per second on a fixed set of 2000×1500 JPEGs: the media worker's libvips pool
/// (thumbnails alone, and the whole check of an upload) beside `vipsthumbnail` on the same files,
/// in one run. Needs no services.
struct Thumbnails: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thumbnails",
        abstract: "Thumbnails/s of the media worker's pool beside vipsthumbnail, on the same 2000×1500 JPEGs.")

    @Option(help: "How many distinct JPEGs to make (each 2000×1500).")
    var images = 50

    @Option(help: "The photo they are made from (scaled to 2000×1500, saved at qualities 80 to 94).")
    var source = "Tests/ParleyMediaTests/Fixtures/photo.jpg"

    @Option(help: "Times each contender goes over the set; the best run counts.")
    var rounds = 3

    func run() async throws {
        // As the media worker does.
        HeapSettings.keepFreedMemory()
        let folder = NSTemporaryDirectory() + "parley-thumbs-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: "\(folder)/out", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var files: [String] = []
        for i in 0..<images {
            let path = "\(folder)/photo-\(i).jpg"
            // 1600×1200 × 1.25 = 2000×1500; a different quality makes each file different.
            try shell("/usr/bin/vips", ["resize", source, "\(path)[Q=\(80 + i % 15)]", "1.25"])
            files.append(path)
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let processor = try ImageProcessor(threads: cores)
        let media = MediaProcessor(images: processor, policy: MediaPolicy(allowedTypes: ["image/jpeg"], maxImagePixels: 40_000_000))
        print("thumbnails of \(images) JPEGs of 2000×1500, fitting 200×200, \(cores) cores, best of \(rounds):")

        let pool = try await best {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (i, file) in files.enumerated() {
                    group.addTask { try await processor.writeThumbnail(ofFileAt: file, to: "\(folder)/out/\(i).webp") }
                }
                try await group.waitForAll()
            }
        }
        report("media worker pool: thumbnail (WebP)", pool)

        let checks = try await best {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (i, file) in files.enumerated() {
                    group.addTask {
                        let checked = try await media.check(stagedAt: file, declaredType: "image/jpeg") { "\(folder)/out/\(i).\($0)" }
                        _ = checked
                    }
                }
                try await group.waitForAll()
            }
        }
        report("media worker pool: whole upload check (sniff, probe, strip metadata, thumbnail)", checks)

        let single = try await best {
            try shell("/usr/bin/vipsthumbnail", ["-s", "200x200", "-o", "\(folder)/out/%s.vt.webp"] + files)
        }
        report("vipsthumbnail, one process", single)

        let split = try await best {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for part in 0..<cores {
                    let share = files.enumerated().filter { $0.offset % cores == part }.map(\.element)
                    group.addTask {
                        try shell("/usr/bin/vipsthumbnail", ["-s", "200x200", "-o", "\(folder)/out/%s.vt.webp"] + share, environment: ["VIPS_CONCURRENCY": "1"])
                    }
                }
                try await group.waitForAll()
            }
        }
        report("vipsthumbnail, \(cores) processes with VIPS_CONCURRENCY=1", split)
        try await processor.shutdown()
    }

    private func best(_ body: () async throws -> Void) async throws -> Duration {
        var fastest = Duration.seconds(1_000_000)
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            try await body()
            fastest = min(fastest, ContinuousClock.now - start)
        }
        return fastest
    }

    private func report(_ label: String, _ time: Duration) {
        let seconds = Double(time.components.seconds) + Double(time.components.attoseconds) / 1e18
        let padded = label.padding(toLength: 72, withPad: " ", startingAt: 0)
        print("  \(padded) \(String(format: "%7.1f images/s  (%.2f s)", Double(images) / seconds, seconds))")
    }
}

/// Runs a program to its end; throws when it fails.
func shell(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ValidationError("\(executable) \(arguments.prefix(3).joined(separator: " ")) ... failed with status \(process.terminationStatus)")
    }
}
