/// Turns `DecodingError`s into the field path and reason a policy error names.
enum PolicyDecoding {
    static func path(of error: any Error) -> String {
        guard let error = error as? DecodingError else { return "" }
        let context: DecodingError.Context
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): context = c
        case .keyNotFound(let key, let c):
            return render(c.codingPath + [key])
        @unknown default: return ""
        }
        return render(context.codingPath)
    }

    static func reason(of error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .typeMismatch(let type, _): return "expected \(describe(type))"
        case .valueNotFound(let type, _): return "expected \(describe(type)), found null"
        case .keyNotFound: return "required field is missing"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : context.debugDescription
        @unknown default: return "\(error)"
        }
    }

    private static func render(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type, is UInt64.Type: return "a whole number"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        default: return "\(type)".contains("Array") ? "a list" : "an object"
        }
    }
}
