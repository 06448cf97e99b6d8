import Foundation

/// Typed reads of raw `KEY=VALUE` settings, each failing with the key's name.
struct Settings {
    let values: [String: String]

    func string(_ key: String, allowEmpty: Bool = false) throws(ConfigError) -> String {
        guard let value = values[key]?.trimmingCharacters(in: .whitespaces) else {
            if allowEmpty { return "" }
            throw ConfigError(key: key, problem: "is not set")
        }
        if value.isEmpty && !allowEmpty { throw ConfigError(key: key, problem: "is empty") }
        return value
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let raw = try string(key)
        guard let value = Int(raw), range.contains(value) else {
            throw ConfigError(key: key, problem: "must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(raw)'")
        }
        return value
    }

    func oneOf(_ key: String, _ allowed: [String]) throws(ConfigError) -> String {
        let raw = try string(key).lowercased()
        guard allowed.contains(raw) else {
            throw ConfigError(key: key, problem: "must be one of \(allowed.joined(separator: ", ")), got '\(raw)'")
        }
        return raw
    }

    func list(_ key: String) throws(ConfigError) -> [String] {
        let items = try string(key).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !items.isEmpty else { throw ConfigError(key: key, problem: "must list at least one value") }
        return items
    }

    /// Seconds as a number, or a number with a unit: `90`, `90s`, `15m`, `12h`, `7d`.
    func duration(_ key: String) throws(ConfigError) -> Duration {
        let raw = try string(key)
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var digits = Substring(raw)
        var unit: Int64 = 1
        if let last = raw.last, let factor = units[last] {
            unit = factor
            digits = raw.dropLast()
        }
        guard let amount = Int64(digits), amount > 0 else {
            throw ConfigError(key: key, problem: "must be a positive duration in seconds or with s/m/h/d, got '\(raw)'")
        }
        return .seconds(amount * unit)
    }

    func url(_ key: String, schemes: Set<String>) throws(ConfigError) -> ServiceURL {
        let raw = try string(key)
        guard let url = ServiceURL(raw), schemes.contains(url.scheme) else {
            throw ConfigError(key: key, problem: "must be a URL like \(schemes.sorted()[0])://user:password@host:port/name, got '\(raw)'")
        }
        return url
    }
}

/// The `KEY=VALUE` format of `config/parley.env`: `#` comments, optional quotes, blank lines.
enum EnvFile {
    static func parse(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), let eq = trimmed.firstIndex(of: "=") else { continue }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces)
            var value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == value.last, first == "\"" || first == "'" {
                value = String(value.dropFirst().dropLast())
            }
            result[key] = value
        }
        return result
    }
}
