import Foundation
import ParleyGateway
import ParleyTestSupport
import XCTest

/// The metrics an operator is told about (docs/operations.md) are the ones the code records, and
/// their names follow Prometheus's conventions.
final class MetricNamesTests: XCTestCase {
    func testEveryMetricIsListedInTheOperationsGuideAndNamedByConvention() throws {
        let recorded = try Self.recordedMetrics()
        XCTAssertGreaterThan(recorded.count, 15, "the source scan found too few metrics to be right")
        let guide = try String(contentsOf: TestServices.root.appendingPathComponent("docs/operations.md"), encoding: .utf8)
        let listed = Set(Self.matches(of: #"`(parley_[a-z0-9_]+)"#, in: guide).map { $0[0] })

        // Hummingbird's, under the names they are exported as (checked below).
        let names = Set(recorded.map(\.name)).union(HTTPMetricNames.renamed.values)
        XCTAssertEqual(names.subtracting(listed).sorted(), [], "recorded but not in docs/operations.md")
        XCTAssertEqual(listed.subtracting(names).sorted(), [], "in docs/operations.md but recorded nowhere")

        for (kind, name) in recorded {
            XCTAssertNotNil(name.wholeMatch(of: /parley_[a-z][a-z0-9]*(_[a-z0-9]+)*/), "\(name): lower snake case under parley_")
            switch kind {
            case "Counter": XCTAssertTrue(name.hasSuffix("_total"), "counter \(name) should end in _total")
            case "Timer": XCTAssertTrue(name.hasSuffix("_seconds"), "timer \(name) should end in _seconds (its base unit)")
            default: XCTAssertFalse(name.hasSuffix("_total"), "\(kind) \(name) must not end in _total, which marks counters")
            }
        }
    }

    func testHummingbirdsRequestMetricsAreExportedUnderParleysNames() async throws {
        try await GatewayRig.run { rig in
            _ = try await rig.request(.get, "/healthz")
            let text = String(decoding: try await rig.request(.get, "/metrics").body, as: UTF8.self)
            var types: [String: String] = [:]
            for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count == 4 { types[String(parts[2])] = String(parts[3]) }
            }
            XCTAssertEqual(types["parley_http_requests_total"], "counter")
            XCTAssertEqual(types["parley_http_request_duration_seconds"], "histogram")
            XCTAssertEqual(types["parley_http_active_requests"], "gauge")
            XCTAssertEqual(types.keys.filter { !$0.hasPrefix("parley_") }.sorted(), [], "exported outside parley_")
        }
    }

    /// Every `Counter(label: "parley_…")` (and gauge, timer, recorder) in the sources and workers.
    private static func recordedMetrics() throws -> [(kind: String, name: String)] {
        var found: [(kind: String, name: String)] = []
        for folder in ["Sources", "Workers"] {
            let root = TestServices.root.appendingPathComponent(folder)
            let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)?
                .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
            for file in files {
                let text = try String(contentsOf: file, encoding: .utf8)
                for groups in matches(of: #"\b(Counter|Gauge|Timer|Recorder|Meter)\(label: "(parley_[^"]*)""#, in: text) {
                    found.append((kind: groups[0], name: groups[1]))
                }
            }
        }
        return found
    }

    /// The capture groups of each match of `pattern` in `text`.
    private static func matches(of pattern: String, in text: String) -> [[String]] {
        let regex = try! NSRegularExpression(pattern: pattern)
        let range = NSRange(text.startIndex..., in: text)
        return regex.matches(in: text, range: range).map { match in
            (1..<match.numberOfRanges).compactMap { Range(match.range(at: $0), in: text).map { String(text[$0]) } }
        }
    }
}
