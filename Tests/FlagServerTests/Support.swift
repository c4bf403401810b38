import FlagCompiler
import FlagEngine
import FlagModel
import FlagServer
import Foundation
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Project `shop` with a production and a staging environment.
let demoManifest = """
    version: 1
    organization: acme
    projects: { shop: {} }
    environments:
      production: { branch: main, production: true }
      staging: { branch: staging }
    """

/// Compiles `files` (a repository root) as of 2026-01-01; they must compile without errors.
func compileSnapshots(_ files: [String: String]) throws -> [Snapshot] {
    let compilation = Compiler().compile(MemoryTree(files), options: CompileOptions(now: Instant(seconds: 1_767_225_600)))
    try #require(compilation.errors.isEmpty, "\(compilation.errors)")
    return compilation.snapshots
}

/// A compiled two-environment repository with a flag of every kind.
func demoSnapshots(rollout: Int = 50) throws -> [Snapshot] {
    let files: [String: String] = [
        "flagstaff.yaml": demoManifest,
        "shop/flags/dark-mode.yaml": """
        rules:
          - name: staff
            when: [ { attribute: email, op: ends_with, values: ["@acme.com"] } ]
            serve: on
        default: off
        """,
        "shop/flags/banner.yaml": """
        type: string
        variants: { a: "hello", b: "bonjour" }
        off_variant: a
        default: a
        rules:
          - name: half
            serve: { split: { a: \(100 - rollout), b: \(rollout) } }
        """,
        "shop/flags/page-size.yaml": """
        type: number
        variants: { small: 3, large: 50 }
        off_variant: small
        default: small
        """,
        "shop/flags/ratio.yaml": """
        type: number
        variants: { low: 3.0, high: 0.75 }
        off_variant: low
        default: low
        """,
        "shop/flags/theme.yaml": """
        type: json
        variants: { blue: { color: blue, size: 2 } }
        off_variant: blue
        default: blue
        """,
    ]
    return try compileSnapshots(files)
}

/// A server on a free loopback port for the duration of `body`.
func withServer<T: Sendable>(
    _ server: FlagServer, _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let application = try server.application(logger: logger) { port in continuation.yield(port) }
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await application.runService(gracefulShutdownSignals: [])
            return nil
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw HTTPTestError("the server did not start") }
        let result = try await body(port)
        server.registry.close()
        group.cancelAll()
        return result
    }
}

struct HTTPTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A response as read off the socket.
struct RawResponse: Sendable {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> Value { try JSONParser.parse(bytes: body) }

    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A minimal HTTP/1.1 client on a blocking socket: it can send what real clients would not
/// (a lying Content-Length) and read a stream as it arrives.
final class RawConnection: @unchecked Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw HTTPTestError("connect failed") }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Reads what is available (blocking up to the socket timeout); empty at end of stream.
    func receive() -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    func readAll() -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let chunk = receive()
            if chunk.isEmpty { return out }
            out += chunk
        }
    }

    /// Reads until `text` has appeared in everything read so far (or the stream ends).
    func read(until text: String, into buffer: inout [UInt8]) -> Bool {
        while !String(decoding: buffer, as: UTF8.self).contains(text) {
            let chunk = receive()
            if chunk.isEmpty { return false }
            buffer += chunk
        }
        return true
    }
}

/// Runs blocking socket work on a thread of its own: on the cooperative pool (two threads
/// here) it would starve the in-process server it talks to.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do {
                continuation.resume(returning: try body())
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.start()
    }
}

/// Sends one request with `Connection: close` and reads the whole response.
func request(
    _ port: Int, _ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil
) async throws -> RawResponse {
    try await onThread {
        let connection = try RawConnection(port: port)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        head += "\r\n"
        connection.send(Array(head.utf8) + Array((body ?? "").utf8))
        return try parseResponse(connection.readAll())
    }
}

func parseResponse(_ bytes: [UInt8]) throws -> RawResponse {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { throw HTTPTestError("no response head in \(text)") }
    let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
    let status = Int(lines[0].split(separator: " ")[1]) ?? 0
    var headers: [String: String] = [:]
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    var body = Array(text[split.upperBound...].utf8)
    if headers["transfer-encoding"] == "chunked" { body = dechunk(body) }
    return RawResponse(status: status, headers: headers, body: body)
}

func dechunk(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    while i < bytes.count {
        guard let lineEnd = (i..<bytes.count - 1).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else { break }
        let size = Int(String(decoding: bytes[i..<lineEnd], as: UTF8.self), radix: 16) ?? 0
        if size == 0 { break }
        out += bytes[(lineEnd + 2)..<min(bytes.count, lineEnd + 2 + size)]
        i = lineEnd + 2 + size + 2
    }
    return out
}

func object(_ value: Value) -> [String: Value] {
    if case .object(let o) = value { return o }
    return [:]
}
