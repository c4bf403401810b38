import AsyncHTTPClient
import FlagModel
import Foundation
import Logging
import NIOCore
import Synchronization

/// Sends what the application evaluated (counts) and tracked (events) to the service's
/// analytics routes (SPEC §15) in batches, every `reportInterval`, off the evaluation path:
///
/// `POST /api/v1/metrics` `{"sdk","windowStart","windowEnd","counts":[{"flag","variant","reason","version","count"}]}`
/// `POST /api/v1/events` `{"sdk","events":[{"kind":"tracking","name","time","context","value"?,"details"?}],"dropped"}`
///
/// A batch the service does not take (down, 5xx) is kept for the next round, up to the
/// queue's bound; a 404 means the service has no analytics routes: the client stops
/// reporting for an hour rather than retrying every few seconds.
final class Reporter: Sendable {
    let configuration: FlagstaffConfiguration
    let httpClient: HTTPClient
    let logger: Logger
    static let sdk = "flagstaff-swift/0.1.0"

    private struct State {
        var events: [Value] = []
        var dropped: UInt64 = 0
        var retired: [LoadedSnapshot] = []
        /// Counts not yet accepted by the service, by (flag, variant, reason, version).
        var pendingCounts: [CountKey: UInt64] = [:]
        var windowStart = Date()
        var pausedUntil: Date?
    }

    struct CountKey: Hashable {
        var flag: String
        var variant: String?
        var reason: Reason
        var version: String
    }

    private let state = Mutex(State())

    init(configuration: FlagstaffConfiguration, httpClient: HTTPClient, logger: Logger) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
    }

    /// A replaced snapshot's counts are still sent, at the next flush.
    func retire(_ loaded: LoadedSnapshot) {
        state.withLock { $0.retired.append(loaded) }
    }

    func track(_ name: String, context: [String: Value], value: Double?, details: [String: Value]) {
        var event: [String: Value] = [
            "kind": .string("tracking"), "name": .string(name), "time": .string(Self.timestamp(Date())),
            "context": .object(context),
        ]
        if let value { event["value"] = .double(value) }
        if !details.isEmpty { event["details"] = .object(details) }
        let limit = configuration.maxQueuedEvents
        state.withLock { s in
            if s.events.count < limit { s.events.append(.object(event)) } else { s.dropped += 1 }
        }
    }

    /// Tracking events dropped because the queue was full, so far.
    var dropped: UInt64 { state.withLock { $0.dropped } }
    var queuedEvents: Int { state.withLock { $0.events.count } }

    func run(client: FlagstaffClient) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.reportInterval)
            } catch {
                return
            }
            await flush(client: client)
        }
    }

    /// Sends one batch of counts and one of events; keeps what the service did not take.
    func flush(client: FlagstaffClient) async {
        var sources = state.withLock { s -> [LoadedSnapshot] in
            let retired = s.retired
            s.retired.removeAll()
            return retired
        }
        if let loaded = client.loaded { sources.append(loaded) }
        var fresh: [CountKey: UInt64] = [:]
        for loaded in sources {
            for c in loaded.drain() {
                fresh[CountKey(flag: c.flag, variant: c.variant, reason: c.reason, version: loaded.version), default: 0] +=
                    c.count
            }
        }
        let now = Date()
        let (counts, events, dropped, windowStart, paused) = state.withLock { s in
            for (key, n) in fresh { s.pendingCounts[key, default: 0] += n }
            // Counts are bounded by the flags and variants that exist; cap the keys anyway.
            if s.pendingCounts.count > 100_000 { s.pendingCounts.removeAll() }
            return (s.pendingCounts, s.events, s.dropped, s.windowStart, s.pausedUntil.map { $0 > now } ?? false)
        }
        guard !paused else { return }
        if !counts.isEmpty {
            let body: Value = .object([
                "sdk": .string(Self.sdk), "windowStart": .string(Self.timestamp(windowStart)),
                "windowEnd": .string(Self.timestamp(now)),
                "counts": .array(
                    counts.keys.sorted { ($0.flag, $0.variant ?? "", $0.reason.rawValue) < ($1.flag, $1.variant ?? "", $1.reason.rawValue) }
                        .map { key in
                            .object([
                                "flag": .string(key.flag), "variant": key.variant.map(Value.string) ?? .null,
                                "reason": .string(key.reason.rawValue), "version": .string(key.version),
                                "count": .int(Int64(counts[key]!)),
                            ])
                        }),
            ])
            if await post("/api/v1/metrics", body) {
                state.withLock { s in
                    for (key, n) in counts {
                        let left = (s.pendingCounts[key] ?? 0) - n
                        s.pendingCounts[key] = left > 0 ? left : nil
                    }
                    s.windowStart = now
                }
            }
        }
        if !events.isEmpty {
            let body: Value = .object([
                "sdk": .string(Self.sdk), "events": .array(events), "dropped": .int(Int64(dropped)),
            ])
            if await post("/api/v1/events", body) {
                state.withLock { s in s.events.removeFirst(min(events.count, s.events.count)) }
            }
        }
    }

    /// True when the service took the batch.
    private func post(_ path: String, _ body: Value) async -> Bool {
        var request = HTTPClientRequest(url: configuration.url + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let key = configuration.key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let project = configuration.project { request.headers.add(name: "X-Flagstaff-Project", value: project) }
        if let environment = configuration.environment {
            request.headers.add(name: "X-Flagstaff-Environment", value: environment)
        }
        request.body = .bytes(ByteBuffer(bytes: CanonicalJSON.encodeBytes(body)))
        do {
            let response = try await httpClient.execute(request, timeout: .init(configuration.requestTimeout))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            switch response.status.code {
            case 200..<300: return true
            case 404:
                logger.info("the service has no analytics routes; reporting paused for an hour", metadata: ["path": "\(path)"])
                state.withLock { $0.pausedUntil = Date().addingTimeInterval(3600) }
                return false
            case 400..<500 where response.status.code != 429:
                // Refused for good (a key without the right, a body it cannot read): drop it.
                logger.warning("analytics batch refused", metadata: ["path": "\(path)", "status": "\(response.status.code)"])
                return true
            default:
                return false
            }
        } catch {
            logger.debug("analytics batch not sent; kept for the next round", metadata: ["error": "\(error)"])
            return false
        }
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
