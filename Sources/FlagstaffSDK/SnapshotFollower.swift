import AsyncHTTPClient
import FlagModel
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Keeps a client's snapshot current: fetches `GET /api/v1/snapshot`, then follows
/// `GET /api/v1/stream?events=snapshot`; after any failure waits (doubling, with jitter),
/// fetches again and resumes the stream with `Last-Event-ID`.
struct SnapshotFollower: Sendable {
    let client: FlagstaffClient

    var configuration: FlagstaffConfiguration { client.configuration }

    func run() async {
        var delay = configuration.reconnectDelay
        while !Task.isCancelled {
            do {
                try await fetch()
                client.setState(.ready)
                delay = configuration.reconnectDelay
                try await follow()
                lost("the event stream ended")
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                lost("\(error)")
            }
            let jitter = Double.random(in: 0.8...1.2)
            try? await Task.sleep(for: delay * jitter)
            delay = min(delay * 2, configuration.maxReconnectDelay)
        }
    }

    /// Keeps serving what there is; says so.
    private func lost(_ reason: String) {
        if client.loaded != nil {
            client.setState(.stale(reason))
        } else {
            client.setState(.error(reason))
        }
    }

    func request(_ path: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: configuration.url + path)
        if let key = configuration.key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let project = configuration.project { request.headers.add(name: "X-Flagstaff-Project", value: project) }
        if let environment = configuration.environment {
            request.headers.add(name: "X-Flagstaff-Environment", value: environment)
        }
        request.headers.add(name: "User-Agent", value: "flagstaff-swift-sdk")
        return request
    }

    /// The snapshot served now; a 304 when ours is current.
    func fetch() async throws {
        var request = request("/api/v1/snapshot")
        if let version = client.version { request.headers.add(name: "If-None-Match", value: "\"\(version)\"") }
        let response = try await client.httpClient.execute(request, timeout: .init(configuration.requestTimeout))
        if response.status == .notModified { return }
        let body = try await response.body.collect(upTo: 512 * 1024 * 1024)
        guard response.status == .ok else {
            throw FlagstaffSDKError(
                "GET /api/v1/snapshot answered \(response.status.code): \(String(buffer: body).prefix(300))")
        }
        let bytes = Array(buffer: body)
        let snapshot = try Snapshot(json: try JSONParser.parse(bytes: bytes, limits: FlagstaffClient.snapshotLimits))
        let revision = response.headers.first(name: "X-Flagstaff-Revision").flatMap { Int64($0) } ?? 0
        install(snapshot, revision: revision, json: bytes)
    }

    private func install(_ snapshot: Snapshot, revision: Int64, json: [UInt8]) {
        if client.swap(snapshot, revision: revision, json: json), let loaded = client.loaded {
            client.writeCache(loaded)
        }
    }

    /// Reads the stream until it ends, fails, or stays silent past the idle timeout.
    func follow() async throws {
        var request = request("/api/v1/stream?events=snapshot")
        if let revision = client.revision, revision > 0 {
            request.headers.add(name: "Last-Event-ID", value: String(revision))
        }
        let response = try await client.httpClient.execute(request, timeout: .hours(24 * 365))
        guard response.status == .ok else {
            let body = try? await response.body.collect(upTo: 64 * 1024)
            throw FlagstaffSDKError(
                "GET /api/v1/stream answered \(response.status.code): \(body.map { String(buffer: $0) }?.prefix(300) ?? "")")
        }
        let lastActivity = Activity()
        let idleTimeout = configuration.idleTimeout
        let body = response.body
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var parser = ServerSentEventParser()
                for try await buffer in body {
                    lastActivity.touch()
                    for event in parser.feed(buffer.readableBytesView) where event.event == "snapshot" {
                        try receive(event)
                    }
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: idleTimeout / 3)
                    if lastActivity.silence > idleTimeout {
                        throw FlagstaffSDKError("the event stream was silent for \(idleTimeout)")
                    }
                }
            }
            // Whichever ends first (the stream, or the silence) ends both.
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// `{"type":"snapshot","project","environment","revision","version","commit","snapshot":{…}}`
    private func receive(_ event: ServerSentEvent) throws {
        let message = try JSONParser.parse(bytes: Array(event.data.utf8), limits: FlagstaffClient.snapshotLimits)
        guard case .object(let fields) = message, let snapshotValue = fields["snapshot"],
            case .int(let revision)? = fields["revision"]
        else { throw FlagstaffSDKError("a snapshot event without a snapshot or revision") }
        let snapshot = try Snapshot(json: snapshotValue)
        install(snapshot, revision: revision, json: CanonicalJSON.encodeBytes(snapshotValue))
        client.setState(.ready)
    }
}

/// When bytes last arrived on a stream.
final class Activity: Sendable {
    private let last = Mutex(ContinuousClock.now)
    func touch() { last.withLock { $0 = .now } }
    var silence: Duration { ContinuousClock.now - last.withLock { $0 } }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
