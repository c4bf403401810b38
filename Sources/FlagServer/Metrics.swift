import FlagModel
import Foundation

/// Counters and histograms for `GET /metrics`, in Prometheus' text format.
public final class Metrics: @unchecked Sendable {
    struct RequestKey: Hashable {
        var route: String
        var status: Int
    }

    /// Latency bucket bounds, in seconds.
    static let bounds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

    struct Histogram {
        var counts = [UInt64](repeating: 0, count: Metrics.bounds.count)
        var count: UInt64 = 0
        var sum: Double = 0

        mutating func observe(_ seconds: Double) {
            count += 1
            sum += seconds
            if let index = Metrics.bounds.firstIndex(where: { seconds <= $0 }) { counts[index] += 1 }
        }
    }

    private let lock = NSLock()
    private var requests: [RequestKey: UInt64] = [:]
    private var latency: [String: Histogram] = [:]
    private var gauges: [String: Double] = [:]
    private var sources: [@Sendable () -> String] = []

    public init() {}

    /// Adds exposition text that another part renders itself (the notifier's counters and
    /// histogram), appended as it is.
    public func addSource(_ render: @escaping @Sendable () -> String) {
        lock.lock()
        sources.append(render)
        lock.unlock()
    }

    public func recordRequest(route: String, status: Int, seconds: Double) {
        lock.lock()
        requests[RequestKey(route: route, status: status), default: 0] += 1
        latency[route, default: Histogram()].observe(seconds)
        lock.unlock()
    }

    /// Sets a process-wide gauge such as `flagstaff_leader`.
    public func setGauge(_ name: String, _ value: Double) {
        lock.lock()
        gauges[name] = value
        lock.unlock()
    }

    /// Drops a gauge that no longer means anything here, such as a former leader's
    /// `flagstaff_outbox_pending`.
    public func removeGauge(_ name: String) {
        lock.lock()
        gauges[name] = nil
        lock.unlock()
    }

    /// The exposition: what was counted here plus what the registry knows per environment.
    public func render(registry: SnapshotRegistry, now: Date = Date()) -> String {
        lock.lock()
        let requests = self.requests
        let latency = self.latency
        let gauges = self.gauges
        let sources = self.sources
        lock.unlock()
        let (evaluations, notFound) = registry.evaluationCounts()

        var out = ""
        out += "# HELP flagstaff_http_requests_total HTTP requests by route and status.\n"
        out += "# TYPE flagstaff_http_requests_total counter\n"
        for (key, count) in requests.sorted(by: { ($0.key.route, $0.key.status) < ($1.key.route, $1.key.status) }) {
            out += "flagstaff_http_requests_total{route=\(quote(key.route)),status=\"\(key.status)\"} \(count)\n"
        }
        out += "# HELP flagstaff_http_request_duration_seconds Time to answer a request, by route.\n"
        out += "# TYPE flagstaff_http_request_duration_seconds histogram\n"
        for (route, histogram) in latency.sorted(by: { $0.key < $1.key }) {
            var cumulative: UInt64 = 0
            for (index, bound) in Self.bounds.enumerated() {
                cumulative += histogram.counts[index]
                out += "flagstaff_http_request_duration_seconds_bucket{route=\(quote(route)),le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "flagstaff_http_request_duration_seconds_bucket{route=\(quote(route)),le=\"+Inf\"} \(histogram.count)\n"
            out += "flagstaff_http_request_duration_seconds_sum{route=\(quote(route))} \(histogram.sum)\n"
            out += "flagstaff_http_request_duration_seconds_count{route=\(quote(route))} \(histogram.count)\n"
        }
        out += "# HELP flagstaff_evaluations_total Flag evaluations by flag, variant and reason.\n"
        out += "# TYPE flagstaff_evaluations_total counter\n"
        let sortedEvaluations = evaluations.sorted {
            ($0.key.project, $0.key.environment, $0.key.flag, $0.key.variant, $0.key.reason)
                < ($1.key.project, $1.key.environment, $1.key.flag, $1.key.variant, $1.key.reason)
        }
        for (key, count) in sortedEvaluations {
            out += "flagstaff_evaluations_total{project=\(quote(key.project)),environment=\(quote(key.environment))"
            out += ",flag=\(quote(key.flag)),variant=\(quote(key.variant)),reason=\(quote(key.reason))} \(count)\n"
        }

        out += "# HELP flagstaff_evaluations_not_found_total Evaluations of keys the snapshot does not have.\n"
        out += "# TYPE flagstaff_evaluations_not_found_total counter\n"
        for (key, count) in notFound.sorted(by: { $0.key < $1.key }) {
            out += "flagstaff_evaluations_not_found_total{\(labels(key.project, key.environment))} \(count)\n"
        }

        out += "# HELP flagstaff_snapshot_revision The revision served per environment.\n"
        out += "# TYPE flagstaff_snapshot_revision gauge\n"
        let served = registry.all
        for active in served {
            out += "flagstaff_snapshot_revision{\(labels(active.project, active.environment))} \(active.revision)\n"
        }
        out += "# HELP flagstaff_snapshot_info The commit and version served per environment (always 1).\n"
        out += "# TYPE flagstaff_snapshot_info gauge\n"
        for active in served {
            out += "flagstaff_snapshot_info{\(labels(active.project, active.environment)),commit="
            out += "\(quote(active.snapshot.commit ?? "")),version=\(quote(active.version))} 1\n"
        }
        let environments = registry.environments
        let states = environments.map { ($0, registry.state($0)) }
        out += "# HELP flagstaff_sync_errors_total Failed sync attempts (Git, PostgreSQL or Redis) per environment.\n"
        out += "# TYPE flagstaff_sync_errors_total counter\n"
        for (key, state) in states {
            out += "flagstaff_sync_errors_total{\(labels(key.project, key.environment))} \(state.syncErrors)\n"
        }
        out += "# HELP flagstaff_sync_rejected_commits_total Commits rejected because they do not compile or test.\n"
        out += "# TYPE flagstaff_sync_rejected_commits_total counter\n"
        for (key, state) in states {
            out += "flagstaff_sync_rejected_commits_total{\(labels(key.project, key.environment))} \(state.rejectedCommits)\n"
        }
        out += "# HELP flagstaff_sync_lag_seconds Seconds since the environment's branch was last read successfully.\n"
        out += "# TYPE flagstaff_sync_lag_seconds gauge\n"
        for (key, state) in states {
            guard let lastCheck = state.lastCheck else { continue }
            out += "flagstaff_sync_lag_seconds{\(labels(key.project, key.environment))} "
            out += "\(max(0, now.timeIntervalSince(lastCheck)))\n"
        }
        out += "# HELP flagstaff_sync_duration_seconds From noticing a new commit to serving it, last change.\n"
        out += "# TYPE flagstaff_sync_duration_seconds gauge\n"
        for (key, state) in states {
            guard let seconds = state.lastSyncSeconds else { continue }
            out += "flagstaff_sync_duration_seconds{\(labels(key.project, key.environment))} \(seconds)\n"
        }
        out += "# HELP flagstaff_stream_clients Open event streams.\n"
        out += "# TYPE flagstaff_stream_clients gauge\n"
        out += "flagstaff_stream_clients \(registry.subscriberCount)\n"
        for (name, value) in gauges.sorted(by: { $0.key < $1.key }) {
            out += "# TYPE \(name) gauge\n\(name) \(value)\n"
        }
        for source in sources { out += source() }
        return out
    }

    private func labels(_ project: String, _ environment: String) -> String {
        "project=\(quote(project)),environment=\(quote(environment))"
    }

    private func quote(_ value: String) -> String {
        var out = "\""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out + "\""
    }
}
