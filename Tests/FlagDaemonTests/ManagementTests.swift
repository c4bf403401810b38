import FlagModel
import Foundation
import Testing

/// The management API end to end (SPEC §14): a real daemon, a real Git repository, keys
/// from a keys file (and PostgreSQL where the audit trail matters).
@Suite(.serialized)
struct ManagementTests {
    /// A repository whose checkout flag has comments, flow style and an overlay, and keys of
    /// every role in a keys file.
    final class Setup: @unchecked Sendable {
        let repo: FlagRepository
        let keysFile: URL
        var keys: [String: String] = [:]

        static let checkout = """
            # Checkout rebuilt for 2027.
            # Owned by payments: ask in #payments before changing it.
            name: New checkout
            enabled: true   # on everywhere unless an environment says otherwise
            rules:
              - name: staff
                when: [ { segment: staff } ]
                serve: on
            default: off
            environments:
              staging: { default: on }   # staging tries it on everyone

            """

        init() throws {
            repo = try FlagRepository()
            try repo.write(["shop/flags/checkout.yaml": Self.checkout])
            try repo.commit("checkout with comments")
            try repo.git("branch", "-f", "staging", "main")
            keysFile = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)")
            for (name, arguments) in [
                ("viewer", ["--type", "manage", "--role", "viewer"]),
                ("editor", ["--type", "manage", "--role", "editor"]),
                ("owner", ["--type", "manage", "--role", "owner"]),
                ("other-project", ["--type", "manage", "--role", "owner", "--project", "other"]),
                ("server", ["--type", "server", "--project", "shop", "--environment", "production"]),
                ("server-staging", ["--type", "server", "--project", "shop", "--environment", "staging"]),
            ] {
                let result = try Spawn.run(
                    [Paths.binary, "keys", "create", "--keys-file", keysFile.path, "--name", "Ana Bot \(name)"]
                        + arguments)
                guard result.status == 0, let key = result.output.split(separator: "\n").last else {
                    throw TestFailure("keys create failed: \(result.output)")
                }
                keys[name] = String(key)
            }
        }

        deinit { try? FileManager.default.removeItem(at: keysFile) }

        func daemon(_ extra: [String] = []) async throws -> DaemonProcess {
            let daemon = try DaemonProcess(
                ["daemon", "--repo", repo.url.path, "--poll-interval", "0.2", "--keys-file", keysFile.path] + extra)
            try await daemon.waitUntilListening()
            try await eventually(30, "both environments are served") {
                try servedRevision(daemon.port, environment: "staging", key: self.keys["server-staging"]) != nil
                    && servedRevision(daemon.port, environment: "production", key: self.keys["server"]) != nil
            }
            return daemon
        }

        func call(
            _ daemon: DaemonProcess, _ role: String?, _ method: String, _ path: String, body: String? = nil,
            headers: [String: String] = [:]
        ) throws -> (status: Int, body: String, json: Value) {
            var headers = headers
            if let role { headers["Authorization"] = "Bearer \(keys[role] ?? role)" }
            let response = try daemon.http(method, path, body: body, headers: headers)
            return (response.status, response.body, (try? JSONParser.parse(response.body)) ?? .null)
        }

        func file(_ branch: String, _ path: String = "shop/flags/checkout.yaml") throws -> String {
            try repo.git("show", "\(branch):\(path)")
        }
    }

    @Test func aToggleIsACommitByTheCallerThatKeepsEveryOtherByte() async throws {
        let setup = try Setup()
        let daemon = try await setup.daemon()
        defer { daemon.terminate() }
        let before = try setup.repo.tip("staging")

        let response = try setup.call(
            daemon, "editor", "PATCH", "/api/v1/flags/shop:checkout/environments/staging/toggle?wait=applied",
            body: #"{"enabled": false, "comment": "incident 4711: checkout errors"}"#,
            headers: ["X-Request-Id": "req-4711"])
        #expect(response.status == 200, "\(response.body)")
        #expect(response.json["resource"]?["enabled"] == .bool(false))
        #expect(response.json["applied"]?["revision"] != nil, "\(response.body)")
        // Served right after the answer: staff (u-1) now get the off variant.
        let value = try servedValue(
            daemon, flag: "checkout", environment: "staging", context: #"{"targetingKey":"u-1"}"#,
            key: setup.keys["server-staging"])
        #expect(value?.contains(#""reason":"DISABLED""#) == true, "\(value ?? "nil")")

        // The commit: author the caller, committer Flagstaff, the comment and the trailers.
        let tip = try setup.repo.tip("staging")
        #expect(tip != before)
        #expect(try setup.repo.git("rev-parse", "staging^").trimmingCharacters(in: .whitespacesAndNewlines) == before)
        let author = try setup.repo.git("log", "-1", "--format=%an <%ae>|%cn", "staging")
        #expect(author.hasPrefix("Ana Bot editor <"), "\(author)")
        #expect(author.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("|Flagstaff"), "\(author)")
        let message = try setup.repo.git("log", "-1", "--format=%B", "staging")
        #expect(message.hasPrefix("Disable checkout in staging\n"), "\(message)")
        #expect(message.contains("incident 4711: checkout errors"))
        #expect(message.contains("Flagstaff-Actor: key:fsk_"), "\(message)")
        #expect(message.contains("Flagstaff-Request-Id: req-4711"), "\(message)")

        // Only the overlay line changed: comments, flow style and order are the same bytes.
        let after = try setup.file("staging")
        #expect(
            after
                == Setup.checkout.replacingOccurrences(
                    of: "staging: { default: on }", with: "staging: { default: on, enabled: false }"), "\(after)")
        // Production did not move.
        #expect(try setup.file("main") == Setup.checkout)
    }

    @Test func everyRoleAndCredentialCase() async throws {
        let setup = try Setup()
        let daemon = try await setup.daemon()
        defer { daemon.terminate() }
        let toggle = "/api/v1/flags/shop:checkout/environments/staging/toggle"

        #expect(try setup.call(daemon, nil, "GET", "/api/v1/projects").status == 401)
        let unknown = try setup.call(daemon, "fsk_aaaaaaaaaaaa_" + String(repeating: "b", count: 32), "GET", "/api/v1/projects")
        #expect(unknown.status == 401)
        #expect(unknown.json["field"] == .string("Authorization"))
        #expect(try setup.call(daemon, "not-a-key", "GET", "/api/v1/projects").status == 401)
        let server = try setup.call(daemon, "server", "GET", "/api/v1/projects")
        #expect(server.status == 403, "\(server.body)")

        let viewerRead = try setup.call(daemon, "viewer", "GET", "/api/v1/flags?tag=none")
        #expect(viewerRead.status == 200, "\(viewerRead.body)")
        let viewerWrite = try setup.call(daemon, "viewer", "PATCH", toggle, body: #"{"enabled": false}"#)
        #expect(viewerWrite.status == 403)
        #expect(viewerWrite.json["errorDetails"]?.stringValue?.contains("editor") == true, "\(viewerWrite.body)")
        let otherProject = try setup.call(daemon, "other-project", "PATCH", toggle, body: #"{"enabled": false}"#)
        #expect(otherProject.status == 403, "\(otherProject.body)")
        // A key of the management API does not evaluate.
        let evaluate = try setup.call(
            daemon, "owner", "POST", "/ofrep/v1/evaluate/flags/checkout", body: #"{"context":{"targetingKey":"u"}}"#)
        #expect(evaluate.status == 403)

        // Strict bodies name the field.
        let unknownField = try setup.call(daemon, "editor", "PATCH", toggle, body: #"{"enabeld": false}"#)
        #expect(unknownField.status == 400)
        #expect(unknownField.json["field"] == .string("enabeld"))
        let wrongType = try setup.call(daemon, "editor", "PATCH", toggle, body: #"{"enabled": "no"}"#)
        #expect(wrongType.status == 400)
        #expect(wrongType.json["field"] == .string("enabled"))
        let notJSON = try setup.call(daemon, "editor", "PATCH", toggle, body: "{")
        #expect(notJSON.status == 400)
        // A wrong method is 405 with Allow.
        let method = try setup.call(daemon, "editor", "DELETE", toggle)
        #expect(method.status == 405)
        // Requests are counted per route.
        let metrics = try daemon.http("GET", "/metrics").body
        #expect(metrics.contains(#"route="/api/v1/flags/{flagId}/environments/{environmentId}/toggle""#), "\(metrics.prefix(3000))")
    }

    @Test func aChangeThatBreaksAGoldenTestIs422AndTheBranchDoesNotMove() async throws {
        let setup = try Setup()
        let daemon = try await setup.daemon()
        defer { daemon.terminate() }
        let before = try setup.repo.tip("staging")
        // banner's golden test expects staff (u-1) to get on: disabling it breaks the test.
        let response = try setup.call(
            daemon, "editor", "PATCH", "/api/v1/flags/shop:banner/environments/staging/toggle",
            body: #"{"enabled": false}"#)
        #expect(response.status == 422, "\(response.body)")
        guard case .array(let diagnostics)? = response.json["diagnostics"] else {
            Issue.record("no diagnostics: \(response.body)")
            return
        }
        #expect(diagnostics.contains { $0["file"] == .string("shop/flags/banner.yaml") }, "\(response.body)")
        #expect(try setup.repo.tip("staging") == before)
    }

    @Test func ifMatchMakesAWriteConditionalAndConcurrentWritersLoseNothing() async throws {
        let setup = try Setup()
        let daemon = try await setup.daemon()
        defer { daemon.terminate() }
        let path = "/api/v1/flags/shop:checkout/environments/staging"
        let read = try daemon.http("GET", path, headers: ["Authorization": "Bearer \(setup.keys["editor"]!)"])
        #expect(read.status == 200, "\(read.body)")
        let etag = try Spawn.run(
            ["curl", "-s", "-D", "-", "-o", "/dev/null", "-H", "Authorization: Bearer \(setup.keys["editor"]!)",
             "http://127.0.0.1:\(daemon.port)\(path)"]).output
            .split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") }
            .map { String($0.dropFirst(5)).trimmingCharacters(in: .whitespaces) }
        let tag = try #require(etag)

        // Two writers with the same ETag, at once: one lands, the other is 412.
        async let first = Task.detached {
            try setup.call(daemon, "editor", "PATCH", path, body: #"{"default": "on"}"#, headers: ["If-Match": tag])
        }.value
        async let second = Task.detached {
            try setup.call(daemon, "editor", "PATCH", path, body: #"{"enabled": false}"#, headers: ["If-Match": tag])
        }.value
        let statuses = try await [first.status, second.status].sorted()
        #expect(statuses == [200, 412], "\(statuses)")

        // Without If-Match, concurrent writers to one flag both land.
        async let third = Task.detached {
            try setup.call(daemon, "editor", "PATCH", path, body: #"{"default": "off"}"#)
        }.value
        async let fourth = Task.detached {
            try setup.call(daemon, "editor", "PATCH", "\(path)/toggle", body: #"{"enabled": true}"#)
        }.value
        let both = try await [third.status, fourth.status]
        #expect(both == [200, 200], "\(both)")
        let file = try setup.file("staging")
        #expect(file.contains("default: off"), "\(file)")
        #expect(file.contains("enabled: true }"), "\(file)")
    }

    @Test func productionReviewsChangesButTheKillSwitchIsDirect() async throws {
        let setup = try Setup()
        let daemon = try await setup.daemon()
        defer { daemon.terminate() }
        let main = try setup.repo.tip("main")

        // An editor turning a flag on in production opens a change.
        let opened = try setup.call(
            daemon, "editor", "PATCH", "/api/v1/flags/shop:checkout/environments/production",
            body: #"{"default": "on", "comment": "launch"}"#)
        #expect(opened.status == 202, "\(opened.body)")
        #expect(try setup.repo.tip("main") == main)
        let id = try #require(opened.json["change"]?["id"]?.stringValue)
        let text = opened.json["diff"]?["text"]?.stringValue ?? ""
        #expect(text.contains("checkout"), "\(opened.body)")
        let listed = try setup.call(daemon, "viewer", "GET", "/api/v1/changes")
        #expect(listed.json["items"]?.arrayValue?.count == 1, "\(listed.body)")
        // Editors do not merge; owners do.
        #expect(try setup.call(daemon, "editor", "POST", "/api/v1/changes/\(id)/merge").status == 403)

        // The kill switch by an owner is direct even under review, and survives a promotion.
        let killed = try setup.call(
            daemon, "owner", "PATCH", "/api/v1/flags/shop:checkout/environments/production/toggle?wait=applied",
            body: #"{"enabled": false, "comment": "incident"}"#)
        #expect(killed.status == 200, "\(killed.body)")
        #expect(try setup.repo.tip("main") != main)
        // The work tree of the checked-out main follows its branch.
        #expect(try setup.repo.git("status", "--porcelain").isEmpty)
        #expect(try String(contentsOf: setup.repo.url.appendingPathComponent("shop/flags/checkout.yaml"), encoding: .utf8)
            == setup.file("main"))

        // Merging the change now conflicts: the file changed under it.
        let conflicted = try setup.call(daemon, "owner", "POST", "/api/v1/changes/\(id)/merge")
        #expect(conflicted.status == 409, "\(conflicted.body)")
        #expect(try setup.call(daemon, "editor", "POST", "/api/v1/changes/\(id)/close").status == 200)
        #expect(try setup.call(daemon, "viewer", "GET", "/api/v1/changes").json["items"]?.arrayValue?.count == 0)

        // A promotion: staging changes the same file elsewhere and is merged into main.
        try setup.repo.git("checkout", "-q", "staging")
        try setup.repo.write([
            "shop/flags/checkout.yaml": try setup.file("staging").replacingOccurrences(
                of: "name: New checkout", with: "name: New checkout flow")
        ])
        try setup.repo.commit("rename")
        try setup.repo.git("checkout", "-q", "main")
        try setup.repo.git("merge", "-q", "--no-edit", "staging")
        let promoted = try setup.file("main")
        #expect(promoted.contains("name: New checkout flow"))
        #expect(promoted.contains("production: { enabled: false }") || promoted.contains("enabled: false"), "\(promoted)")
        try await eventually(10, "the promotion is served and the flag stays off in production") {
            try setup.call(daemon, "viewer", "GET", "/api/v1/flags/shop:checkout").json["name"]
                == .string("New checkout flow")
        }
        let configuration = try setup.call(daemon, "viewer", "GET", "/api/v1/flags/shop:checkout/environments/production")
        #expect(configuration.json["enabled"] == .bool(false), "\(configuration.body)")

        // A change opened on the new tip merges.
        let reopened = try setup.call(
            daemon, "editor", "PATCH", "/api/v1/flags/shop:checkout/environments/production",
            body: #"{"default": "on"}"#)
        let newID = try #require(reopened.json["change"]?["id"]?.stringValue, "\(reopened.body)")
        let merged = try setup.call(daemon, "owner", "POST", "/api/v1/changes/\(newID)/merge?wait=applied")
        #expect(merged.status == 200, "\(merged.body)")
        #expect(try setup.file("main").contains("enabled: false, default: on") || setup.file("main").contains("default: on"))
        let author = try setup.repo.git("log", "-1", "--format=%an", "main")
        #expect(author.hasPrefix("Ana Bot owner"), "\(author)")
    }
}
