/// Server-Sent Events, parsed incrementally from the bytes of a stream as they arrive
/// (the WHATWG event-stream format: `id:`, `event:`, `data:` lines, a blank line ends an
/// event, `:` starts a comment).
struct ServerSentEvent: Sendable, Equatable {
    var id: String?
    var event: String
    var data: String
}

struct ServerSentEventParser: Sendable {
    private var line: [UInt8] = []
    private var id: String?
    private var event = ""
    private var data: [String] = []
    private var sawCarriageReturn = false
    /// Lines longer than this are cut (a snapshot event's data line can be megabytes; the
    /// limit guards memory, not format).
    let maxLine: Int

    init(maxLine: Int = 64 * 1024 * 1024) {
        self.maxLine = maxLine
    }

    /// Feeds bytes; returns the events they complete.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [ServerSentEvent] {
        var out: [ServerSentEvent] = []
        for byte in bytes {
            if sawCarriageReturn {
                sawCarriageReturn = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\n"):
                if let event = endLine() { out.append(event) }
            case UInt8(ascii: "\r"):
                sawCarriageReturn = true
                if let event = endLine() { out.append(event) }
            default:
                if line.count < maxLine { line.append(byte) }
            }
        }
        return out
    }

    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            guard !data.isEmpty else {
                event = ""
                return nil
            }
            let complete = ServerSentEvent(id: id, event: event.isEmpty ? "message" : event, data: data.joined(separator: "\n"))
            data.removeAll()
            event = ""
            return complete
        }
        if line.first == UInt8(ascii: ":") { return nil }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        let field = String(decoding: line[..<colon], as: UTF8.self)
        var valueStart = colon < line.endIndex ? line.index(after: colon) : colon
        if valueStart < line.endIndex, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = String(decoding: line[valueStart...], as: UTF8.self)
        switch field {
        case "id": id = value
        case "event": event = value
        case "data": data.append(value)
        default: break
        }
        return nil
    }
}
