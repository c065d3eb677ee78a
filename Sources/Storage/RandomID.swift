/// Random base62 identifiers from the system's CSPRNG.
public enum RandomID {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    /// Eight characters' worth of randomness per draw from the CSPRNG (one system call each, not one a character):
    /// bytes below 248 = 4 × 62 map evenly onto the alphabet, the rest are drawn again.
    public static func base62(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var characters: [Character] = []
        characters.reserveCapacity(count)
        while characters.count < count {
            var draw = generator.next()
            for _ in 0..<8 where characters.count < count {
                let byte = Int(draw & 0xFF)
                draw >>= 8
                if byte < 248 { characters.append(alphabet[byte % 62]) }
            }
        }
        return String(characters)
    }
}
