import Foundation
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

        let names = Set(recorded.map(\.name))
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
