import CCap
import Foundation

/// Capability names, checked strictly: libcap's `cap_from_name` also accepts numbers and trailing garbage
/// ("cap_net_raw,xyz", "12"), so a name must match the pattern and survive a round trip through libcap.
public enum Capabilities {
    public struct InvalidName: Error, Sendable {
        public let message: String
    }

    /// The engine's spelling (`NET_RAW`) for `NET_RAW`, `CAP_NET_RAW`, `cap_net_raw`; `ALL` stays `ALL`.
    public static func canonical(_ name: String) throws(InvalidName) -> String {
        if name.uppercased() == "ALL" { return "ALL" }
        guard name.range(of: #"^(?i:cap_)?[A-Za-z][A-Za-z0-9_]*$"#, options: .regularExpression) != nil else {
            throw InvalidName(message: "not a capability name (expected e.g. NET_BIND_SERVICE or CAP_CHOWN)")
        }
        var lower = name.lowercased()
        if !lower.hasPrefix("cap_") { lower = "cap_" + lower }
        let value = knify_cap_from_name(lower)
        guard value >= 0, let canonical = knify_cap_to_name(value) else {
            throw InvalidName(message: "unknown capability")
        }
        defer { knify_cap_free_name(canonical) }
        guard String(cString: canonical) == lower else {
            throw InvalidName(message: "unknown capability (libcap reads it as \(String(cString: canonical)))")
        }
        return String(lower.dropFirst(4)).uppercased()
    }
}
