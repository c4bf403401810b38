import FlagAnalytics
import FlagModel
import FlagServer
import FlagStore
import Foundation
import NIOPosix

/// Answers the report routes from PostgreSQL: one connection per report, on the thread pool,
/// so a slow report never holds an event loop.
struct AnalyticsReporter: AnalyticsReports {
    let postgres: String
    let pool: NIOThreadPool

    func report(_ query: ReportQuery) async -> Result<RenderedReport, ReportFailure> {
        let request: Request
        switch Self.request(query) {
        case .failure(let failure): return .failure(failure)
        case .success(let parsed): request = parsed
        }
        let postgres = self.postgres
        do {
            return try await pool.runIfActive { () -> Result<RenderedReport, ReportFailure> in
                let connection: PostgresConnection
                do {
                    connection = try PostgresConnection(url: postgres)
                } catch {
                    return .failure(ReportFailure(.unavailable, "PostgreSQL: \(error)"))
                }
                return Self.run(request, snapshot: query.snapshot, store: AnalyticsStore(connection: connection))
            }
        } catch {
            return .failure(ReportFailure(.unavailable, "the server is stopping"))
        }
    }

    /// A report request with its parameters checked.
    enum Request: Sendable {
        case usage(flag: String, days: Int, granularity: UsageGranularity)
        case stale(days: Int)
        case experiment(flag: String, event: String, days: Int)
    }

    static func request(_ query: ReportQuery) -> Result<Request, ReportFailure> {
        func days(_ fallback: Int) -> Result<Int, ReportFailure> {
            guard let text = query.parameters["days"] else { return .success(fallback) }
            guard let value = Int(text), (1...366).contains(value) else {
                return .failure(ReportFailure(.badParameter, "days must be a whole number from 1 to 366, not '\(text)'"))
            }
            return .success(value)
        }
        func known(_ flag: String) -> ReportFailure? {
            query.snapshot.flag(flag) == nil
                ? ReportFailure(
                    .notFound, "no flag '\(flag)' in what \(query.snapshot.project)/\(query.snapshot.environment) serves")
                : nil
        }
        switch query.kind {
        case .usage(let flag):
            if let missing = known(flag) { return .failure(missing) }
            let granularity: UsageGranularity
            switch query.parameters["granularity"] {
            case nil: granularity = .day
            case let text?:
                guard let parsed = UsageGranularity(rawValue: text) else {
                    return .failure(ReportFailure(.badParameter, "granularity must be hour or day, not '\(text)'"))
                }
                granularity = parsed
            }
            return days(7).map { .usage(flag: flag, days: $0, granularity: granularity) }
        case .stale:
            return days(30).map { .stale(days: $0) }
        case .experiment(let flag):
            if let missing = known(flag) { return .failure(missing) }
            guard let event = query.parameters["event"], !event.isEmpty else {
                return .failure(ReportFailure(.badParameter, "event is required: the tracking event that counts as a conversion"))
            }
            return days(14).map { .experiment(flag: flag, event: event, days: $0) }
        }
    }

    /// Blocking: the query and the report.
    static func run(_ request: Request, snapshot: Snapshot, store: AnalyticsStore) -> Result<RenderedReport, ReportFailure> {
        let now = Date()
        do {
            let report: any AnalyticsReport
            switch request {
            case .usage(let flag, let days, let granularity):
                report = try Reports.usage(
                    store: store, project: snapshot.project, environment: snapshot.environment, flag: flag,
                    days: days, granularity: granularity, now: now)
            case .stale(let days):
                report = try Reports.stale(store: store, snapshot: snapshot, now: now, days: days)
            case .experiment(let flag, let event, let days):
                report = try Reports.experiment(
                    store: store, snapshot: snapshot, flag: flag, event: event,
                    from: now.addingTimeInterval(-Double(days) * 86_400), to: now)
            }
            return .success(RenderedReport(json: report.json, text: report.text, markdown: report.markdown))
        } catch {
            // Parameters were checked and the flag found above: what is left is the database, or a
            // flag that is not what the report needs (an experiment of a flag without a split).
            return .failure(ReportFailure(error.cause == nil ? .conflict : .unavailable, error.description))
        }
    }
}
