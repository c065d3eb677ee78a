extension Sequence<UInt8> {
    /// Lowercase hex, two digits a byte. Written out because `String(format: "%02x")` per byte cost more than the
    /// SHA-256 it printed, on every authenticated request.
    public var hexEncoded: String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
