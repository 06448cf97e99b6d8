import Foundation
import Histogram

/// What a run measured, as printed, written to JSON and drawn.
public struct LoadReport: Codable, Sendable {
    public struct Latency: Codable, Sendable {
        public var count: UInt64
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var p999: Double
        public var max: Double
        public var mean: Double
        /// (percentile, milliseconds) points from 0 to 99.999, for charts.
        public var curve: [[Double]]

        init(_ histogram: Histogram<UInt64>) {
            func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
            count = histogram.totalCount
            p50 = ms(histogram.valueAtPercentile(50))
            p90 = ms(histogram.valueAtPercentile(90))
            p99 = ms(histogram.valueAtPercentile(99))
            p999 = ms(histogram.valueAtPercentile(99.9))
            max = ms(histogram.max)
            mean = histogram.totalCount == 0 ? 0 : histogram.mean / 1000
            curve = histogram.totalCount == 0 ? [] : LatencyChart.percentiles.map { [$0, ms(histogram.valueAtPercentile($0))] }
        }
    }

    public var plan: LoadTestPlan
    public var finishedAt: Date
    /// Seconds messages were being sent.
    public var sendingSeconds: Double
    /// Messages the plan asked for over the run, the ramp-up's climb included: `sentPerSecond`
    /// alone, averaged over the ramp too, reads as a shortfall when every send went out.
    public var due: Int
    public var sent: Int
    public var acked: Int
    public var uploads: Int
    public var expectedDeliveries: Int
    public var delivered: Int
    /// Deliveries expected but not seen before the drain ended.
    public var missing: Int
    /// Deliveries of a message to a user whose sockets had already got it.
    public var repeated: Int
    /// Deliveries of messages whose send had failed (e.g. timed out): late, not lost.
    public var late: Int
    public var errors: [String: Int]
    public var connectionsPeak: Int
    public var connectionsFailed: Int
    public var sentPerSecond: Double
    public var deliveredPerSecond: Double
    /// Socket sends to their acks.
    public var ack: Latency
    /// Uploads to their 201 (none without `--upload-share`).
    public var upload: Latency
    public var delivery: Latency
    /// CPU the load generator itself used while sending and draining.
    public var generatorCPUSeconds: Double
    public var generatorMicrosPerDelivery: Double
    /// Event-loop threads the load generator's sockets ran on.
    public var generatorEventLoops: Int

    init(plan: LoadTestPlan, state: LoadRecorder.State, sendingSeconds: Double, connectionsFailed: Int, cpuSeconds: Double, eventLoops: Int) {
        self.plan = plan
        finishedAt = Date()
        self.sendingSeconds = sendingSeconds
        due = Int(plan.due(at: plan.duration))
        sent = state.sent
        acked = state.acked
        uploads = state.uploads
        expectedDeliveries = state.expected
        delivered = state.delivered
        missing = max(0, state.expected - state.delivered)
        repeated = state.repeated
        late = state.late
        errors = state.errors
        connectionsPeak = state.peakConnections
        self.connectionsFailed = connectionsFailed
        sentPerSecond = sendingSeconds > 0 ? Double(state.sent) / sendingSeconds : 0
        deliveredPerSecond = sendingSeconds > 0 ? Double(state.delivered) / sendingSeconds : 0
        ack = Latency(state.ack)
        upload = Latency(state.upload)
        delivery = Latency(state.delivery)
        generatorCPUSeconds = cpuSeconds
        generatorEventLoops = eventLoops
        generatorMicrosPerDelivery = state.delivered > 0 ? cpuSeconds * 1e6 / Double(state.delivered) : 0
    }

    /// The end-of-run table.
    public var table: String {
        func row(_ name: String, _ l: Latency) -> String {
            String(format: "%-16@ %9.2f %9.2f %9.2f %9.2f %9.2f %9llu", name as NSString, l.p50, l.p90, l.p99, l.p999, l.max, l.count)
        }
        var lines = [
            String(format: "%d users, chats of %d, %@, %.0f msg/s target for %.0f s (ramp-up %.0f s)",
                   plan.users, plan.chatSize, plan.urls.joined(separator: " ") as NSString, plan.rate, plan.duration, plan.rampUp),
            "",
            "latency (ms)         p50       p90       p99     p99.9       max     count",
            row("send → ack", ack),
        ]
        if upload.count > 0 { lines.append(row("upload → 201", upload)) }
        lines += [
            row("send → delivery", delivery),
            "",
            String(format: "sent %d of %d due (%.0f/s, the ramp-up included), acked %d (%d uploads), delivered %d of %d (%.0f/s), missing %d, repeated %d, late %d",
                   sent, due, sentPerSecond, acked, uploads, delivered, expectedDeliveries, deliveredPerSecond, missing, repeated, late),
            "sockets: \(connectionsPeak) held, \(connectionsFailed) failed",
            String(format: "load generator CPU: %.2f s (%.1f µs per delivery), event loops: %d", generatorCPUSeconds, generatorMicrosPerDelivery, generatorEventLoops),
        ]
        if !errors.isEmpty {
            lines.append("errors:")
            for (kind, count) in errors.sorted(by: { $0.value > $1.value }) { lines.append("  \(count)  \(kind)") }
        }
        return lines.joined(separator: "\n")
    }
}

/// An SVG chart of latency by percentile (the usual HdrHistogram plot: the x axis spreads the
/// tail, 90 → 99 → 99.9 → 99.99 at equal steps).
public enum LatencyChart {
    static let percentiles: [Double] = {
        var points: [Double] = []
        for nines in 0..<5 {
            let base = 100 - 100 / pow(10, Double(nines))
            let next = 100 - 100 / pow(10, Double(nines + 1))
            for step in 0..<10 { points.append(base + (next - base) * Double(step) / 10) }
        }
        return points + [99.999]
    }()

    public static func svg(_ report: LoadReport) -> String {
        let (width, height, left, bottom, top, right) = (760.0, 420.0, 70.0, 50.0, 40.0, 20.0)
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let series = [
            ("send → ack", report.ack.curve, "#1f77b4"), ("upload → 201", report.upload.curve, "#2ca02c"),
            ("send → delivery", report.delivery.curve, "#d62728"),
        ].filter { !$0.1.isEmpty }
        let maxMs = max(1, series.flatMap { $0.1.map { $0[1] } }.max() ?? 1) * 1.1
        func x(_ percentile: Double) -> Double { left + plotWidth * min(5, log10(100 / max(1e-3, 100 - percentile))) / 5 }
        func y(_ ms: Double) -> Double { top + plotHeight * (1 - ms / maxMs) }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="22" font-size="14">Parley load test: \(report.plan.users) users, chats of \(report.plan.chatSize), \(Int(report.sentPerSecond)) msg/s sent, \(Int(report.deliveredPerSecond)) deliveries/s</text>

            """
        for (label, percentile) in [("0", 0.0), ("90", 90.0), ("99", 99.0), ("99.9", 99.9), ("99.99", 99.99), ("99.999", 99.999)] {
            svg += "<line x1=\"\(x(percentile))\" y1=\"\(top)\" x2=\"\(x(percentile))\" y2=\"\(top + plotHeight)\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(x(percentile))\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(label)%</text>\n"
        }
        for i in 0...5 {
            let ms = maxMs * Double(i) / 5
            svg += "<line x1=\"\(left)\" y1=\"\(y(ms))\" x2=\"\(left + plotWidth)\" y2=\"\(y(ms))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(y(ms) + 4)\" text-anchor=\"end\">\(String(format: "%.1f", ms))</text>\n"
        }
        svg += "<text x=\"\(left + plotWidth / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\">percentile</text>\n"
        svg += "<text x=\"16\" y=\"\(top + plotHeight / 2)\" transform=\"rotate(-90 16 \(top + plotHeight / 2))\" text-anchor=\"middle\">latency (ms)</text>\n"
        for (index, (label, curve, color)) in series.enumerated() where !curve.isEmpty {
            let points = curve.map { String(format: "%.1f,%.1f", x($0[0]), y($0[1])) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            svg += "<text x=\"\(left + 12)\" y=\"\(top + 16 + Double(index) * 16)\" fill=\"\(color)\">\(label)</text>\n"
        }
        return svg + "</svg>\n"
    }
}
