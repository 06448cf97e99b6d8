import Foundation

/// What a load test does: who, where, how fast, for how long.
public struct LoadTestPlan: Sendable, Codable {
    /// Gateways; users are spread over them in turn.
    public var urls: [String]
    public var users: Int
    /// Members per chat: 2 makes 1:1 chats, more makes groups.
    public var chatSize: Int
    /// Messages per second sent in all, once ramped up.
    public var rate: Double
    public var duration: Double
    /// Seconds over which the rate climbs from 0 to `rate`.
    public var rampUp: Double
    /// Characters of text per message.
    public var messageSize: Int
    /// Share (0–1) of messages sent as image uploads over HTTP instead of socket text.
    public var uploadShare: Double
    /// Seconds to wait, once every send is answered, for deliveries still on their way.
    public var drain: Double

    public init(
        urls: [String], users: Int, chatSize: Int, rate: Double, duration: Double, rampUp: Double, messageSize: Int, uploadShare: Double,
        drain: Double = 5
    ) {
        self.urls = urls
        self.users = users
        self.chatSize = chatSize
        self.rate = rate
        self.duration = duration
        self.rampUp = rampUp
        self.messageSize = messageSize
        self.uploadShare = uploadShare
        self.drain = drain
    }

    /// Messages that should have been sent by `elapsed` seconds: the rate ramps up linearly.
    public func due(at elapsed: Double) -> Double {
        guard elapsed > 0 else { return 0 }
        let t = min(elapsed, duration)
        guard rampUp > 0 else { return rate * t }
        if t <= rampUp { return rate * t * t / (2 * rampUp) }
        return rate * rampUp / 2 + rate * (t - rampUp)
    }

    /// Problems with the plan, for one clear error before anything starts.
    public var problems: [String] {
        var problems: [String] = []
        if urls.isEmpty { problems.append("--url is required") }
        if users < 2 { problems.append("--users must be at least 2") }
        if chatSize < 2 || chatSize > users { problems.append("--chat-size must be from 2 to --users") }
        if rate <= 0 { problems.append("--rate must be positive") }
        if duration <= 0 { problems.append("--duration must be positive") }
        if rampUp < 0 || rampUp > duration { problems.append("--ramp-up must be from 0 to --duration") }
        if messageSize < 1 || messageSize > 10_000 { problems.append("--message-size must be from 1 to 10000") }
        if !(0...1).contains(uploadShare) { problems.append("--upload-share must be from 0 to 1") }
        if !(0...600).contains(drain) { problems.append("--drain must be from 0 to 600") }
        return problems
    }
}
