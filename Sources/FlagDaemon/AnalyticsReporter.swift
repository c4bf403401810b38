import FlagServer
import FlagStore
import Foundation
import NIOPosix

/// Answers the report routes from PostgreSQL, one connection per report, on the thread pool.
struct AnalyticsReporter: AnalyticsReports {
    let postgres: String
    let pool: NIOThreadPool

    func report(_ query: ReportQuery) async -> Result<RenderedReport, ReportFailure> {
        .failure(ReportFailure(.unavailable, "reports are not built yet"))
    }
}
