/// What every entry point that takes a caller's evaluation context as JSON checks, so that
/// the OFREP routes and the C library refuse the same contexts with the same words.
public enum EvaluationContext {
    /// Deep or huge JSON is refused before evaluation.
    public static let limits = JSONParser.Limits(maxDepth: 32, maxMembers: 10_000)
    /// More top-level attributes than this are refused (INVALID_CONTEXT).
    public static let maxAttributes = 1_000

    /// Why a parsed context cannot be evaluated (the INVALID_CONTEXT details), or nil.
    public static func problem(with attributes: [String: Value]) -> String? {
        // OFREP's targetingKey is a string; numbers and booleans are read as their text and
        // null as no key, but a list or an object would silently bucket as if there were no key.
        switch attributes["targetingKey"] {
        case .array, .object:
            return "'targetingKey' must be a string"
        default:
            break
        }
        if attributes.count > maxAttributes {
            return "the context has \(attributes.count) attributes; at most \(maxAttributes) are accepted"
        }
        return nil
    }
}
