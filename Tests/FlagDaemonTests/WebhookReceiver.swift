import FlagModel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP server on 127.0.0.1 for notification tests, on plain sockets and threads:
/// records every request, answers as told (a status, or never), and can be stopped and
/// started again on the same port, as a receiver that goes down and comes back.
final class WebhookReceiver: @unchecked Sendable {
    enum Mode: Sendable {
        case answer(Int)
        /// Reads the request and answers nothing until stopped.
        case hang
    }

    struct Request: Sendable {
        var headers: [String: String]
        var body: [UInt8]
        var receivedAt: Date

        func header(_ name: String) -> String? { headers[name.lowercased()] }

        var json: [String: Value] {
            guard case .object(let o)? = try? JSONParser.parse(bytes: body) else { return [:] }
            return o
        }

        var event: String? { header("X-Flagstaff-Event") }
    }

    private let lock = NSLock()
    private var listener: Int32 = -1
    private var requestsSeen: [Request] = []
    private var currentMode: Mode = .answer(200)
    private var open: [Int32] = []
    private(set) var port: UInt16 = 0

    init() throws {
        try start()
    }

    deinit { stop() }

    var url: String { "http://127.0.0.1:\(port)/hooks/flagstaff/sekrit-path" }

    var mode: Mode {
        get { lock.withLock { currentMode } }
        set { lock.withLock { currentMode = newValue } }
    }

    var requests: [Request] { lock.withLock { requestsSeen } }

    /// Requests of the given event, in arrival order.
    func requests(_ event: String) -> [Request] { requests.filter { $0.event == event } }

    /// Listens (again) on the same port, or a new one the first time.
    func start() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw TestFailure("cannot listen on 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        lock.withLock { listener = fd }
        Thread.detachNewThread { [self] in acceptLoop(fd) }
    }

    /// Stops listening and drops every open connection: the receiver is down.
    func stop() {
        let (fd, connections) = lock.withLock { () -> (Int32, [Int32]) in
            let fd = listener
            listener = -1
            let connections = open
            open = []
            return (fd, connections)
        }
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
        for connection in connections { shutdown(connection, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop(_ fd: Int32) {
        while true {
            let connection = accept(fd, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            let stillListening = lock.withLock { () -> Bool in
                guard listener == fd else { return false }
                open.append(connection)
                return true
            }
            guard stillListening else {
                close(connection)
                return
            }
            Thread.detachNewThread { [self] in serve(connection) }
        }
    }

    private func serve(_ connection: Int32) {
        defer {
            lock.withLock { open.removeAll { $0 == connection } }
            close(connection)
        }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            // One request after another on a kept-alive connection.
            var headerEnd: Int?
            while headerEnd == nil {
                headerEnd = Self.find([13, 10, 13, 10], in: buffer)
                if headerEnd != nil { break }
                let n = read(connection, &chunk, chunk.count)
                if n <= 0 { return }
                buffer += chunk[0..<n]
            }
            let head = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
            var headers: [String: String] = [:]
            for line in head.split(separator: "\r\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            let bodyStart = headerEnd! + 4
            while buffer.count < bodyStart + length {
                let n = read(connection, &chunk, chunk.count)
                if n <= 0 { return }
                buffer += chunk[0..<n]
            }
            let body = Array(buffer[bodyStart..<(bodyStart + length)])
            buffer.removeFirst(bodyStart + length)
            let mode = lock.withLock { () -> Mode in
                requestsSeen.append(Request(headers: headers, body: body, receivedAt: Date()))
                return currentMode
            }
            switch mode {
            case .hang:
                // Until the client gives up or the receiver is stopped.
                while read(connection, &chunk, chunk.count) > 0 {}
                return
            case .answer(let status):
                var response = "HTTP/1.1 \(status) Status\r\nContent-Length: 2\r\n"
                if status == 429 { response += "Retry-After: 1\r\n" }
                response += "\r\nok"
                let bytes = Array(response.utf8)
                if write(connection, bytes, bytes.count) != bytes.count { return }
            }
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i
        }
        return nil
    }
}
