// A Hummingbird service that evaluates Flagstaff flags in process.
//
//   FLAGSTAFF_URL=http://127.0.0.1:8080 FLAGSTAFF_KEY=fsk_… swift run flagstaff-sdk-example
//   curl 'http://127.0.0.1:8081/checkout?user=user-1'
//
// The client runs in the application's ServiceGroup: it loads the snapshot, follows the
// service's stream and keeps answering from memory if the service goes away.
import FlagModel
import FlagstaffSDK
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

let environment = ProcessInfo.processInfo.environment
var configuration = FlagstaffConfiguration(
    url: environment["FLAGSTAFF_URL"] ?? "http://127.0.0.1:8080", key: environment["FLAGSTAFF_KEY"])
configuration.cacheFile = environment["FLAGSTAFF_CACHE"]
configuration.project = environment["FLAGSTAFF_PROJECT"]
let logger = Logger(label: "example")
let flags = FlagstaffClient(configuration: configuration, logger: logger)

let router = Router()
router.get("checkout") { request, _ -> String in
    let user = request.uri.queryParameters["user"].map(String.init) ?? "anonymous"
    // One context per request, prepared once, reused for every flag it asks.
    let context = flags.context(["targetingKey": .string(user)])
    let checkout = flags.bool("new-checkout", default: false, context: context)
    let page = flags.number("search-results-per-page", default: 25, context: context)
    return "new-checkout=\(checkout.value) (\(checkout.reason.rawValue)), results per page=\(Int(page.value))\n"
}
router.get("health") { _, _ -> String in "\(flags.state)\n" }

let port = Int(environment["PORT"] ?? "8081") ?? 8081
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
let group = ServiceGroup(
    configuration: .init(services: [flags, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
try await group.run()
