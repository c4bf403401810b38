import FlagEngine
import FlagModel
import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle

/// `GET /api/v1/snapshot` and `GET /api/v1/stream` for local-evaluation clients.
extension FlagServer {
    func snapshot(_ request: Request) -> Response {
        let caller: APIKey?
        switch authorize(request, .readSnapshot) {
        case .refused(let response): return response
        case .granted(let granted): caller = granted
        }
        switch target(request, key: caller) {
        case .failure(let error): return error.response
        case .success(let active):
            if request.matches(etag: active.etag) { return Responses.notModified(etag: active.etag) }
            var headers: HTTPFields = [.eTag: active.etag]
            headers[HTTPField.Name("X-Flagstaff-Revision")!] = String(active.revision)
            return Responses.bytes(active.json, headers: headers)
        }
    }

    /// Which events a stream carries: `?events=snapshot`, `?events=ofrep` or both (default).
    struct StreamKinds {
        var snapshots = true
        var refetch = true
    }

    /// Server-Sent Events: for every new snapshot of the caller's environment, a `snapshot`
    /// event carrying it whole and OFREP's `refetchEvaluation` message, both with the
    /// revision as id. On connect the current snapshot is sent unless `Last-Event-ID`
    /// already names its revision; comments keep an idle stream open.
    func stream(_ request: Request) -> Response {
        let caller: APIKey?
        switch authorize(request, .readSnapshot) {
        case .refused(let response): return response
        case .granted(let granted): caller = granted
        }
        let current: ActiveSnapshot
        switch target(request, key: caller) {
        case .failure(let error): return error.response
        case .success(let active): current = active
        }
        var requested = StreamKinds()
        switch request.uri.queryParameters["events"].map(String.init) {
        case "snapshot"?: requested.refetch = false
        case "ofrep"?: requested.snapshots = false
        default: break
        }
        let kinds = requested
        let lastEventID = request.header("Last-Event-ID").flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
        let key = EnvironmentKey(project: current.project, environment: current.environment)
        // Subscribe before reading what is current, so no swap falls between the two.
        let events = registry.events()
        let keepAlive = configuration.keepAliveInterval
        let registry = self.registry
        let headers: HTTPFields = [
            .contentType: "text/event-stream", .cacheControl: "no-cache",
            HTTPField.Name("X-Accel-Buffering")!: "no",
        ]
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                enum Item: Sendable {
                    case snapshot(ActiveSnapshot)
                    case step(ActiveSnapshot, Instant)
                    case keepAlive
                    case end
                }
                let (items, feed) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingNewest(16))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await event in events {
                            switch event {
                            case .applied(let active) where active.project == key.project
                                && active.environment == key.environment:
                                feed.yield(.snapshot(active))
                            case .applied: continue
                            case .stepped(let active, let step) where active.project == key.project
                                && active.environment == key.environment:
                                feed.yield(.step(active, step))
                            case .stepped: continue
                            case .closing:
                                feed.yield(.end)
                                return
                            }
                        }
                        feed.yield(.end)
                    }
                    group.addTask {
                        while !Task.isCancelled {
                            try await Task.sleep(for: keepAlive)
                            feed.yield(.keepAlive)
                        }
                    }
                    var sent = lastEventID ?? -1
                    try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                    let latest = registry.snapshot(key) ?? current
                    if lastEventID == nil || latest.revision != lastEventID {
                        try await writer.write(ByteBuffer(bytes: Self.events(for: latest, kinds)))
                        sent = latest.revision
                    }
                    for await item in items.cancelOnGracefulShutdown() {
                        switch item {
                        case .snapshot(let active):
                            guard active.revision != sent else { continue }
                            try await writer.write(ByteBuffer(bytes: Self.events(for: active, kinds)))
                            sent = active.revision
                        case .step(let active, let step):
                            // Only OFREP clients need telling: local evaluators follow the clock.
                            guard kinds.refetch, active.revision == sent else { continue }
                            try await writer.write(ByteBuffer(bytes: Self.stepEvent(for: active, at: step)))
                        case .keepAlive:
                            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        case .end:
                            break
                        }
                        if case .end = item { break }
                    }
                    group.cancelAll()
                }
                try await writer.finish(nil)
            })
    }

    /// The SSE text of OFREP's `refetchEvaluation` when a schedule steps: the bulk ETag moves on.
    static func stepEvent(for active: ActiveSnapshot, at step: Instant) -> [UInt8] {
        let etag = active.bulkETag(at: step)
        let data: Value = .object([
            "type": .string("refetchEvaluation"), "etag": .string(String(etag.dropFirst().dropLast())),
            "lastModified": .int(step.seconds), "reason": .string("schedule"),
        ])
        var out = Array("id: \(active.revision)\nevent: message\ndata: ".utf8)
        out += CanonicalJSON.encodeBytes(data)
        out += Array("\n\n".utf8)
        return out
    }

    /// The SSE text of one snapshot's events.
    static func events(for active: ActiveSnapshot, _ kinds: StreamKinds) -> [UInt8] {
        var out: [UInt8] = []
        let id = String(active.revision)
        if kinds.snapshots {
            out += Array("id: \(id)\nevent: snapshot\ndata: ".utf8)
            out += Array("{\"type\":\"snapshot\",\"project\":".utf8)
            CanonicalJSON.writeString(active.project, to: &out)
            out += Array(",\"environment\":".utf8)
            CanonicalJSON.writeString(active.environment, to: &out)
            out += Array(",\"revision\":\(id),\"version\":".utf8)
            CanonicalJSON.writeString(active.version, to: &out)
            out += Array(",\"commit\":".utf8)
            CanonicalJSON.write(active.snapshot.commit.map(Value.string) ?? .null, to: &out)
            out += Array(",\"snapshot\":".utf8)
            out += active.json
            out += Array("}\n\n".utf8)
        }
        if kinds.refetch {
            let data: Value = .object([
                "type": .string("refetchEvaluation"), "etag": .string(String(active.bulkETag(at: now()).dropFirst().dropLast())),
                "lastModified": .int(Int64(active.appliedAt.timeIntervalSince1970)),
            ])
            out += Array("id: \(id)\nevent: message\ndata: ".utf8)
            out += CanonicalJSON.encodeBytes(data)
            out += Array("\n\n".utf8)
        }
        return out
    }
}
