import Foundation

/// One member of a tar archive.
public struct TarEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case file
        case directory
        case symlink(target: String)
        case hardlink(target: String)
        /// Devices, FIFOs and anything else, by type flag: kept so callers can refuse them.
        case other(typeFlag: UInt8)
    }

    public var path: String
    public var kind: Kind
    public var mode: UInt32
    public var uid: Int
    public var gid: Int
    /// Unix seconds.
    public var modificationTime: Int
    public var contents: [UInt8]

    public init(path: String, kind: Kind, mode: UInt32? = nil, uid: Int = 0, gid: Int = 0, modificationTime: Int = 0,
                contents: [UInt8] = []) {
        self.path = path
        self.kind = kind
        self.mode = mode ?? (kind == .directory ? 0o755 : 0o644)
        self.uid = uid
        self.gid = gid
        self.modificationTime = modificationTime
        self.contents = contents
    }
}

/// Writes POSIX ustar archives (PAX headers for names that do not fit), the format the engine's archive and build
/// endpoints take.
public struct TarWriter: Sendable {
    private var bytes: [UInt8] = []

    public init() {}

    public mutating func append(_ entry: TarEntry) {
        var linkTarget = ""
        let typeFlag: UInt8
        switch entry.kind {
        case .file: typeFlag = UInt8(ascii: "0")
        case .directory: typeFlag = UInt8(ascii: "5")
        case .symlink(let target):
            typeFlag = UInt8(ascii: "2")
            linkTarget = target
        case .hardlink(let target):
            typeFlag = UInt8(ascii: "1")
            linkTarget = target
        case .other(let flag): typeFlag = flag
        }
        var path = entry.path
        if entry.kind == .directory, !path.hasSuffix("/") { path += "/" }

        var pax: [String: String] = [:]
        if path.utf8.count > 100 { pax["path"] = path }
        if linkTarget.utf8.count > 100 { pax["linkpath"] = linkTarget }
        if !pax.isEmpty {
            let records = Self.paxRecords(pax)
            appendHeader(name: "PaxHeader", mode: 0o644, uid: 0, gid: 0, size: records.count, mtime: 0,
                         typeFlag: UInt8(ascii: "x"), linkName: "")
            appendPadded(records)
        }
        let size = entry.kind == .file ? entry.contents.count : 0
        appendHeader(name: String(path.utf8.prefix(100)) ?? "", mode: entry.mode, uid: entry.uid, gid: entry.gid,
                     size: size, mtime: entry.modificationTime, typeFlag: typeFlag,
                     linkName: String(linkTarget.utf8.prefix(100)) ?? "")
        if size > 0 { appendPadded(entry.contents) }
    }

    public mutating func addFile(_ path: String, contents: [UInt8], mode: UInt32 = 0o644, uid: Int = 0, gid: Int = 0) {
        append(TarEntry(path: path, kind: .file, mode: mode, uid: uid, gid: gid, contents: contents))
    }

    public mutating func addDirectory(_ path: String, mode: UInt32 = 0o755, uid: Int = 0, gid: Int = 0) {
        append(TarEntry(path: path, kind: .directory, mode: mode, uid: uid, gid: gid))
    }

    public mutating func addSymlink(_ path: String, target: String) {
        append(TarEntry(path: path, kind: .symlink(target: target), mode: 0o777))
    }

    /// The archive with its two terminating zero blocks.
    public func finish() -> [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }

    private mutating func appendPadded(_ data: [UInt8]) {
        bytes += data
        let remainder = data.count % 512
        if remainder != 0 { bytes += [UInt8](repeating: 0, count: 512 - remainder) }
    }

    private mutating func appendHeader(name: String, mode: UInt32, uid: Int, gid: Int, size: Int, mtime: Int,
                                       typeFlag: UInt8, linkName: String) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            put(String(String(value, radix: 8).suffix(width - 1)).leftPadded(to: width - 1), at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(Int(mode & 0o7777), at: 100, width: 8)
        octal(uid, at: 108, width: 8)
        octal(gid, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(mtime, at: 136, width: 12)
        header[156] = typeFlag
        put(linkName, at: 157, width: 100)
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        // The checksum is computed with its own field as spaces.
        for index in 148..<156 { header[index] = UInt8(ascii: " ") }
        let checksum = header.reduce(0) { $0 + Int($1) }
        put(String(String(checksum, radix: 8)).leftPadded(to: 6), at: 148, width: 6)
        header[154] = 0
        header[155] = UInt8(ascii: " ")
        bytes += header
    }

    /// PAX records are `"<length> <key>=<value>\n"` where length counts the whole record, itself included.
    static func paxRecords(_ values: [String: String]) -> [UInt8] {
        var out: [UInt8] = []
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            let body = " \(key)=\(value)\n"
            var length = body.utf8.count + 1
            while String(length).utf8.count + body.utf8.count != length { length += 1 }
            out += Array("\(length)\(body)".utf8)
        }
        return out
    }
}

/// Reads ustar, PAX and GNU long-name archives.
public enum TarReader {
    /// `concatenated`: archives one after another (what several tar runs print into one stream): zero blocks are
    /// skipped rather than read as the end.
    public static func entries(_ bytes: [UInt8], concatenated: Bool = false) throws(DockerError) -> [TarEntry] {
        var entries: [TarEntry] = []
        var offset = 0
        var pax: [String: String] = [:]
        var gnuLongName: String?
        var gnuLongLink: String?
        while offset + 512 <= bytes.count {
            let header = Array(bytes[offset..<(offset + 512)])
            if header.allSatisfy({ $0 == 0 }) {
                guard concatenated else { break }
                offset += 512
                continue
            }
            guard verifyChecksum(header) else {
                throw DockerError(.decoding, "tar header at byte \(offset) has a bad checksum")
            }
            let size = try number(header[124..<136], field: "size")
            let dataStart = offset + 512
            guard size >= 0, dataStart + size <= bytes.count else {
                throw DockerError(.decoding, "tar entry at byte \(offset) runs past the end of the archive")
            }
            let data = Array(bytes[dataStart..<(dataStart + size)])
            offset = dataStart + (size + 511) / 512 * 512
            let typeFlag = header[156]
            switch typeFlag {
            case UInt8(ascii: "x"):
                pax.merge(parsePax(data)) { $1 }
                continue
            case UInt8(ascii: "g"):
                continue
            case UInt8(ascii: "L"):
                gnuLongName = cString(data[...])
                continue
            case UInt8(ascii: "K"):
                gnuLongLink = cString(data[...])
                continue
            default: break
            }
            var path = cString(header[0..<100])
            let prefix = cString(header[345..<500])
            if header[257..<262].elementsEqual("ustar".utf8), !prefix.isEmpty { path = prefix + "/" + path }
            path = pax["path"] ?? gnuLongName ?? path
            let link = pax["linkpath"] ?? gnuLongLink ?? cString(header[157..<257])
            let kind: TarEntry.Kind
            switch typeFlag {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): kind = .file
            case UInt8(ascii: "5"): kind = .directory
            case UInt8(ascii: "2"): kind = .symlink(target: link)
            case UInt8(ascii: "1"): kind = .hardlink(target: link)
            default: kind = .other(typeFlag: typeFlag)
            }
            entries.append(TarEntry(path: path, kind: kind, mode: UInt32(try number(header[100..<108], field: "mode") & 0o7777),
                                    uid: try number(header[108..<116], field: "uid"),
                                    gid: try number(header[116..<124], field: "gid"),
                                    modificationTime: try number(header[136..<148], field: "mtime"),
                                    contents: kind == .file ? data : []))
            pax = [:]
            gnuLongName = nil
            gnuLongLink = nil
        }
        return entries
    }

    private static func cString(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
    }

    /// Octal, or GNU base-256 when the high bit of the first byte is set.
    private static func number(_ field: ArraySlice<UInt8>, field name: String) throws(DockerError) -> Int {
        if let first = field.first, first & 0x80 != 0 {
            return field.dropFirst().reduce(Int(first & 0x7f)) { $0 << 8 | Int($1) }
        }
        let text = cString(field).trimmingCharacters(in: [" "])
        if text.isEmpty { return 0 }
        guard let value = Int(text, radix: 8) else { throw DockerError(.decoding, "tar \(name) field is not octal: \(text)") }
        return value
    }

    private static func verifyChecksum(_ header: [UInt8]) -> Bool {
        guard let stored = Int(cString(header[148..<156]).trimmingCharacters(in: [" "]), radix: 8) else { return false }
        var sum = 0
        for (index, byte) in header.enumerated() { sum += (148..<156).contains(index) ? 32 : Int(byte) }
        return sum == stored
    }

    private static func parsePax(_ data: [UInt8]) -> [String: String] {
        var values: [String: String] = [:]
        var rest = data[...]
        while let space = rest.firstIndex(of: UInt8(ascii: " ")),
              let length = Int(String(decoding: rest[rest.startIndex..<space], as: UTF8.self)), length > 0,
              rest.count >= length {
            let record = rest[(space + 1)..<(rest.startIndex + length - 1)]
            if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
                values[String(decoding: record[record.startIndex..<equals], as: UTF8.self)] =
                    String(decoding: record[(equals + 1)...], as: UTF8.self)
            }
            rest = rest[(rest.startIndex + length)...]
        }
        return values
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
