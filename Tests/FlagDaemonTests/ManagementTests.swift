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

        init(productionWrite: String? = nil) throws {
            repo = try FlagRepository()
            try repo.write([
                "shop/flags/checkout.yaml": Self.checkout,
                "shop/flags/promo.yaml": "default: off\ntests:\n  - { context: { targetingKey: u-2 }, expect: off }\n",
            ])
            if let productionWrite {
                try repo.write([
                    "flagstaff.yaml": """
                    version: 1
                    organization: acme
                    projects: { shop: {} }
                    environments:
                      production: { branch: main, production: true, write: \(productionWrite) }
                      staging: { branch: staging }
                    """
                ])
            }
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

        func daemon(_ extra: [String] = [], keys: [String]? = nil) async throws -> DaemonProcess {
            let daemon = try DaemonProcess(
                ["daemon", "--repo", repo.url.path, "--poll-interval", "0.2"] + (keys ?? ["--keys-file", keysFile.path])
                    + extra)
            try await daemon.waitUntilListening()
            try await eventually(30, "both environments are served") {
                try daemon.http("GET", "/readyz").status == 200
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
        // promo's golden test expects u-2 to get off: serving on by default breaks it.
        let response = try setup.call(
            daemon, "editor", "PATCH", "/api/v1/flags/shop:promo/environments/staging", body: #"{"default": "on"}"#)
        #expect(response.status == 422, "\(response.body)")
        #expect(response.json["errorCode"] == .string("INVALID_CHANGE"))
        guard case .array(let diagnostics)? = response.json["diagnostics"] else {
            Issue.record("no diagnostics: \(response.body)")
            return
        }
        #expect(
            diagnostics.contains { $0["file"] == .string("shop/flags/promo.yaml") && $0["code"] == .string("E500") },
            "\(response.body)")
        // An unknown variant does not compile: 422 too.
        let unknown = try setup.call(
            daemon, "editor", "PATCH", "/api/v1/flags/shop:promo/environments/staging", body: #"{"default": "maybe"}"#)
        #expect(unknown.status == 422, "\(unknown.body)")
        #expect(try setup.repo.tip("staging") == before)

        // The kill switch is not held back by tests of what it switches off: banner's test
        // expects staff to get on, and turning banner off is still a commit.
        let killed = try setup.call(
            daemon, "editor", "PATCH", "/api/v1/flags/shop:banner/environments/staging/toggle?wait=applied",
            body: #"{"enabled": false}"#)
        #expect(killed.status == 200, "\(killed.body)")
        #expect(killed.json["applied"]?["revision"] != nil, "\(killed.body)")
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
            try setup.call(daemon, "editor", "PATCH", path, body: #"{"default": "off"}"#, headers: ["If-Match": tag])
        }.value
        async let second = Task.detached {
            try setup.call(daemon, "editor", "PATCH", path, body: #"{"enabled": false}"#, headers: ["If-Match": tag])
        }.value
        let statuses = try await [first.status, second.status].sorted()
        #expect(statuses == [200, 412], "\(statuses)")

        // Without If-Match, concurrent writers to one flag both land.
        let reset = try setup.call(daemon, "editor", "PATCH", path, body: #"{"enabled": true, "default": "on"}"#)
        #expect(reset.status == 200, "\(reset.body)")
        #expect(reset.json["commit"]?["id"] != nil, "\(reset.body)")
        async let third = Task.detached {
            try setup.call(daemon, "editor", "PATCH", path, body: #"{"default": "off"}"#)
        }.value
        async let fourth = Task.detached {
            try setup.call(daemon, "editor", "PATCH", "\(path)/toggle", body: #"{"enabled": false}"#)
        }.value
        let both = try await [third.status, fourth.status]
        #expect(both == [200, 200], "\(both)")
        let file = try setup.file("staging")
        #expect(file.contains("default: off"), "\(file)")
        #expect(file.contains("enabled: false"), "\(file)")
        #expect(!file.contains("default: on,") && !file.contains("enabled: true,"), "\(file)")
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
        let mergedFile = try setup.file("main")
        #expect(mergedFile.contains("production: { enabled: false, default: on }"), "\(mergedFile)")
        let author = try setup.repo.git("log", "-1", "--format=%an", "main")
        #expect(author.hasPrefix("Ana Bot owner"), "\(author)")
    }

    @Test func flagsAreCreatedArchivedAndRestoredOnEveryBranch() async throws {
        let setup = try Setup(productionWrite: "direct")
        let daemon = try await setup.daemon()
        defer { daemon.terminate() }

        let created = try setup.call(
            daemon, "editor", "POST", "/api/v1/projects/shop/flags",
            body: #"{"key": "dark-mode", "name": "Dark mode", "tags": ["ui"], "owner": "team-web", "default": "on"}"#)
        #expect(created.status == 201, "\(created.body)")
        #expect(created.json["writes"]?.arrayValue?.count == 2, "\(created.body)")
        let file = try setup.file("main", "shop/flags/dark-mode.yaml")
        #expect(file == "name: Dark mode\nowner: team-web\ntags: [ui]\ndefault: on\n", "\(file)")
        #expect(try setup.file("staging", "shop/flags/dark-mode.yaml") == file)
        let again = try setup.call(daemon, "editor", "POST", "/api/v1/projects/shop/flags", body: #"{"key": "dark-mode"}"#)
        #expect(again.status == 409, "\(again.body)")
        let badKey = try setup.call(daemon, "editor", "POST", "/api/v1/projects/shop/flags", body: #"{"key": "Dark Mode"}"#)
        #expect(badKey.status == 400)
        #expect(badKey.json["field"] == .string("key"))
        try await eventually(10, "the new flag is served in production") {
            try servedValue(daemon, flag: "dark-mode", context: #"{"targetingKey":"u-1"}"#, key: setup.keys["server"])?
                .contains(#""value":true"#) == true
        }
        let listed = try setup.call(daemon, "viewer", "GET", "/api/v1/projects/shop/flags?tag=ui&owner=team-web")
        #expect(listed.json["items"]?.arrayValue?.map { $0["key"] } == [.string("dark-mode")], "\(listed.body)")

        // Archive: still in Git, no longer served, listed with archived=true; restore puts back the same bytes.
        let archived = try setup.call(daemon, "editor", "POST", "/api/v1/flags/shop:dark-mode/archive")
        #expect(archived.status == 200, "\(archived.body)")
        #expect(try setup.file("main", "shop/flags/dark-mode.yaml") == file + "archived: true\n")
        try await eventually(10, "the archived flag is not served") {
            try daemon.http(
                "POST", "/ofrep/v1/evaluate/flags/dark-mode", body: #"{"context":{"targetingKey":"u"}}"#,
                headers: ["Authorization": "Bearer \(setup.keys["server"]!)"]
            ).status == 404
        }
        let archivedList = try setup.call(daemon, "viewer", "GET", "/api/v1/flags?archived=true")
        #expect(archivedList.json["items"]?.arrayValue?.map { $0["id"] } == [.string("shop:dark-mode")], "\(archivedList.body)")
        #expect(archivedList.json["items"]?.arrayValue?.first?["archived"] == .bool(true))
        let restored = try setup.call(daemon, "editor", "POST", "/api/v1/flags/shop:dark-mode/restore")
        #expect(restored.status == 200, "\(restored.body)")
        #expect(try setup.file("main", "shop/flags/dark-mode.yaml") == file)
        #expect(try setup.file("staging", "shop/flags/dark-mode.yaml") == file)

        // Metadata: only those lines change.
        let renamed = try setup.call(
            daemon, "editor", "PATCH", "/api/v1/flags/shop:dark-mode", body: #"{"name": "Dark theme", "owner": null}"#)
        #expect(renamed.status == 200, "\(renamed.body)")
        #expect(try setup.file("main", "shop/flags/dark-mode.yaml") == "name: Dark theme\ntags: [ui]\ndefault: on\n")

        // Deleting is for owners, and the file goes from every branch.
        #expect(try setup.call(daemon, "editor", "DELETE", "/api/v1/flags/shop:dark-mode").status == 403)
        let deleted = try setup.call(daemon, "owner", "DELETE", "/api/v1/flags/shop:dark-mode")
        #expect(deleted.status == 200, "\(deleted.body)")
        #expect(throws: (any Error).self) { try setup.file("main", "shop/flags/dark-mode.yaml") }
    }

    @Test func keysAndTheAuditTrailInPostgreSQLNameTheCaller() async throws {
        let setup = try Setup(productionWrite: "direct")
        let database = try Services.database()
        // A new deployment makes its first key before the daemon ever ran.
        #expect(try Spawn.run([Paths.binary, "migrate", "--postgres", database]).status == 0)
        let made = try Spawn.run(
            [Paths.binary, "keys", "create", "--postgres", database, "--type", "manage", "--role", "owner",
             "--name", "Release bot"])
        #expect(made.status == 0, "\(made.output)")
        let ownerKey = String(made.output.split(separator: "\n").last ?? "")
        setup.keys["owner"] = ownerKey
        let daemon = try await setup.daemon(["--postgres", database], keys: [])
        defer { daemon.terminate() }
        try await eventually(10, "the key is loaded") {
            try setup.call(daemon, "owner", "GET", "/api/v1/projects").status == 200
        }

        let toggled = try setup.call(
            daemon, "owner", "PATCH", "/api/v1/flags/shop:checkout/environments/production/toggle?wait=applied",
            body: #"{"enabled": false, "comment": "incident"}"#)
        #expect(toggled.status == 200, "\(toggled.body)")
        let commit = try #require(toggled.json["commit"]?["id"]?.stringValue)
        try await eventually(10, "the sync's audit rows name the caller") {
            try count(database, "SELECT count(*) FROM audit_logs WHERE commit_sha = $1 AND actor LIKE 'Release bot <%'", [commit]) > 0
        }
        // PostgreSQL's numeric ids name the same resources as the keys.
        let byKey = try setup.call(daemon, "owner", "GET", "/api/v1/flags/shop:checkout")
        let flagNumber = try #require(byKey.json["numericId"]?.intValue, "\(byKey.body)")
        let byNumber = try setup.call(daemon, "owner", "GET", "/api/v1/flags/\(flagNumber)")
        #expect(byNumber.json["id"] == .string("shop:checkout"), "\(byNumber.body)")
        let projectNumber = try #require(
            try setup.call(daemon, "owner", "GET", "/api/v1/projects/shop").json["numericId"]?.intValue)
        #expect(try setup.call(daemon, "owner", "GET", "/api/v1/projects/\(projectNumber)").json["key"] == .string("shop"))
        let environments = try setup.call(daemon, "owner", "GET", "/api/v1/environments/production")
        let environmentNumber = try #require(environments.json["numericIds"]?["shop"]?.intValue, "\(environments.body)")
        let numeric = try setup.call(
            daemon, "owner", "GET", "/api/v1/flags/\(flagNumber)/environments/\(environmentNumber)")
        #expect(numeric.json["flag"] == .string("shop:checkout"), "\(numeric.body)")
        #expect(try setup.call(daemon, "owner", "GET", "/api/v1/flags/999999").status == 404)

        let audit = try setup.call(daemon, "viewer-none", "GET", "/api/v1/audit-logs")
        #expect(audit.status == 401)
        let trail = try setup.call(daemon, "owner", "GET", "/api/v1/audit-logs?actor=Release%20bot")
        #expect(trail.status == 200, "\(trail.body)")
        let rows = trail.json["items"]?.arrayValue ?? []
        #expect(!rows.isEmpty && rows.allSatisfy { $0["commit"] == .string(commit) }, "\(trail.body)")
        // A page at a time, newest first, with a cursor.
        let first = try setup.call(daemon, "owner", "GET", "/api/v1/audit-logs?limit=1")
        let cursor = try #require(first.json["nextCursor"]?.stringValue, "\(first.body)")
        let second = try setup.call(daemon, "owner", "GET", "/api/v1/audit-logs?limit=1&cursor=\(cursor)")
        let firstID = first.json["items"]?.arrayValue?.first?["id"]?.intValue ?? 0
        let secondID = second.json["items"]?.arrayValue?.first?["id"]?.intValue ?? 0
        #expect(secondID > 0 && secondID < firstID, "\(first.body) \(second.body)")
        let badTime = try setup.call(daemon, "owner", "GET", "/api/v1/audit-logs?since=yesterday")
        #expect(badTime.status == 400)
        #expect(badTime.json["field"] == .string("since"))

        // Keys over HTTP: the secret once, usable at once, revoked at once; both audited.
        let created = try setup.call(
            daemon, "owner", "POST", "/api/v1/api-keys", body: #"{"name": "Dashboard", "type": "manage", "role": "viewer"}"#)
        #expect(created.status == 201, "\(created.body)")
        let secret = try #require(created.json["secret"]?.stringValue)
        let id = try #require(created.json["id"]?.stringValue)
        #expect(try setup.call(daemon, secret, "GET", "/api/v1/projects").status == 200)
        let listed = try setup.call(daemon, "owner", "GET", "/api/v1/api-keys")
        #expect(!listed.body.contains(secret))
        #expect(try setup.call(daemon, "owner", "DELETE", "/api/v1/api-keys/\(id)").status == 200)
        #expect(try setup.call(daemon, secret, "GET", "/api/v1/projects").status == 401)
        #expect(try count(database, "SELECT count(*) FROM audit_logs WHERE action IN ('key.created', 'key.revoked') AND actor LIKE 'key:fsk_%'") == 2)
        #expect(try count(database, "SELECT count(*) FROM audit_logs WHERE action = 'key.created' AND actor LIKE 'cli:%'") == 1)
        #expect(!(try Spawn.run(["pg_dump", database]).output.contains(secret)))
        let verify = try Spawn.run([Paths.binary, "audit", "verify", "--postgres", database])
        #expect(verify.status == 0, "\(verify.output)")
    }

    @Test func projectsEnvironmentsSegmentsAndPromotionsAreWrittenToTheManifestAndBranches() async throws {
        let setup = try Setup(productionWrite: "direct")
        let daemon = try await setup.daemon()
        defer { daemon.terminate() }

        let second = try setup.call(daemon, "owner", "POST", "/api/v1/organizations", body: #"{"key": "globex"}"#)
        #expect(second.status == 409, "\(second.body)")
        #expect(second.json["errorCode"] == .string("ONE_ORGANIZATION"))

        #expect(try setup.call(daemon, "editor", "POST", "/api/v1/projects", body: #"{"key": "mobile"}"#).status == 403)
        let project = try setup.call(
            daemon, "owner", "POST", "/api/v1/projects", body: #"{"key": "mobile", "name": "Mobile apps"}"#)
        #expect(project.status == 201, "\(project.body)")
        for branch in ["main", "staging"] {
            let manifest = try setup.file(branch, "flagstaff.yaml")
            #expect(manifest.contains(#"projects: { shop: {}, mobile: { name: "Mobile apps" } }"#), "\(manifest)")
        }

        let environment = try setup.call(
            daemon, "owner", "POST", "/api/v1/environments", body: #"{"key": "qa", "source": "staging"}"#)
        #expect(environment.status == 201, "\(environment.body)")
        #expect(try setup.repo.tip("qa") == setup.repo.tip("staging"))
        try await eventually(15, "the new environment is served") {
            try setup.call(daemon, "viewer", "GET", "/api/v1/environments/qa").json["served"]?["shop"]?["revision"] != nil
        }
        let policy = try setup.call(daemon, "owner", "PATCH", "/api/v1/environments/qa", body: #"{"write": "review"}"#)
        #expect(policy.status == 200, "\(policy.body)")
        #expect(try setup.file("main", "flagstaff.yaml").contains("qa: { branch: qa, write: review }"))

        let segment = try setup.call(
            daemon, "editor", "POST", "/api/v1/projects/shop/segments", body: #"{"key": "beta", "include": ["u-7"]}"#)
        #expect(segment.status == 202, "qa reviews now: \(segment.body)")
        #expect(try setup.file("main", "shop/segments/beta.yaml") == "include: [u-7]\n")
        try await eventually(10, "the segment is served") {
            try setup.call(daemon, "viewer", "GET", "/api/v1/segments/shop:beta").status == 200
        }
        let widened = try setup.call(
            daemon, "editor", "PATCH", "/api/v1/segments/shop:beta", body: #"{"include": ["u-7", "u-8"]}"#)
        // qa has no such segment yet (its change is open), so only the direct branches change.
        #expect(widened.status == 200, "\(widened.body)")
        #expect(try setup.file("staging", "shop/segments/beta.yaml") == "include: [u-7, u-8]\n")

        // Promote staging's checkout (changed there by a commit) to production as a change, then merge it.
        try setup.repo.git("checkout", "-q", "staging")
        try setup.repo.write([
            "shop/flags/checkout.yaml": try setup.file("staging").replacingOccurrences(
                of: "\ndefault: off\n", with: "\ndefault: on\n")
        ])
        try setup.repo.commit("checkout on for everyone")
        try setup.repo.git("checkout", "-q", "main")
        // Production pulled its kill switch meanwhile: the promotion must not undo it.
        let killed = try setup.call(
            daemon, "owner", "PATCH", "/api/v1/flags/shop:checkout/environments/production/toggle",
            body: #"{"enabled": false}"#)
        #expect(killed.status == 200, "\(killed.body)")
        let promotion = try setup.call(
            daemon, "editor", "POST", "/api/v1/promotions",
            body: #"{"from": "staging", "to": "production", "flags": ["checkout"]}"#)
        #expect(promotion.status == 202, "\(promotion.body)")
        let id = try #require(promotion.json["change"]?["id"]?.stringValue)
        #expect(promotion.json["diff"]?["text"]?.stringValue?.contains("checkout") == true, "\(promotion.json["diff"] ?? .null)")
        let unknown = try setup.call(
            daemon, "editor", "POST", "/api/v1/promotions", body: #"{"from": "staging", "to": "production", "flags": ["nope"]}"#)
        #expect(unknown.status == 404)
        #expect(unknown.json["field"] == .string("flags"))
        let merged = try setup.call(daemon, "owner", "POST", "/api/v1/changes/\(id)/merge")
        #expect(merged.status == 200, "\(merged.body)")
        let promoted = try setup.file("main")
        #expect(promoted.contains("\ndefault: on\n"), "\(promoted)")
        #expect(promoted.contains("production: { enabled: false }"), "\(promoted)")
        #expect(promoted.replacingOccurrences(of: "  production: { enabled: false }\n", with: "") == (try setup.file("staging")))
    }

    @Test func callersAreRateLimitedLikeEvaluation() async throws {
        let setup = try Setup()
        let daemon = try await setup.daemon(["--rate-limit", "0.5", "--rate-burst", "2"])
        defer { daemon.terminate() }
        let statuses = try (0..<3).map { _ in try setup.call(daemon, "viewer", "GET", "/api/v1/projects").status }
        #expect(statuses == [200, 200, 429], "\(statuses)")
        let headers = try Spawn.run(
            ["curl", "-s", "-D", "-", "-o", "/dev/null", "-H", "Authorization: Bearer \(setup.keys["viewer"]!)",
             "http://127.0.0.1:\(daemon.port)/api/v1/projects"]).output.lowercased()
        #expect(headers.contains("retry-after: "), "\(headers)")
        // Another caller has its own bucket.
        #expect(try setup.call(daemon, "editor", "GET", "/api/v1/projects").status == 200)
    }

    @Test func flipsKeysFromAFileBranchNamesAndLimitedCallers() async throws {
        let setup = try Setup()
        let daemon = try await setup.daemon()
        defer { daemon.terminate() }
        let toggle = "/api/v1/flags/shop:checkout/environments/staging/toggle"

        // Two flips in a row, the second before the first is served: two commits, back where it was.
        #expect(try setup.call(daemon, "editor", "PATCH", toggle).status == 200)
        #expect(try setup.call(daemon, "editor", "PATCH", toggle).status == 200)
        #expect(try setup.repo.git("log", "--format=%s", "-2", "staging") == "Enable checkout in staging\nDisable checkout in staging\n")
        #expect(try setup.file("staging").contains("enabled: true"))

        // Keys from a keys file are not managed over HTTP (they would not outlive a restart).
        let keys = try setup.call(daemon, "owner", "POST", "/api/v1/api-keys", body: #"{"name": "x", "type": "manage", "role": "viewer"}"#)
        #expect(keys.status == 409, "\(keys.body)")
        #expect(keys.json["errorCode"] == .string("KEYS_FILE"))

        // A branch Git would not take is refused before anything is written.
        let main = try setup.repo.tip("main")
        let bad = try setup.call(
            daemon, "owner", "POST", "/api/v1/environments", body: #"{"key": "qa", "source": "staging", "branch": "bad..name"}"#)
        #expect(bad.status == 400, "\(bad.body)")
        #expect(bad.json["field"] == .string("branch"))
        #expect(try setup.repo.tip("main") == main)

        // A caller limited to another project sees no change of this one.
        let opened = try setup.call(
            daemon, "editor", "PATCH", "/api/v1/flags/shop:checkout/environments/production", body: #"{"default": "on"}"#)
        let id = try #require(opened.json["change"]?["id"]?.stringValue, "\(opened.body)")
        #expect(try setup.call(daemon, "other-project", "GET", "/api/v1/changes").json["items"]?.arrayValue?.isEmpty == true)
        #expect(try setup.call(daemon, "other-project", "GET", "/api/v1/changes/\(id)").status == 404)
        #expect(try setup.call(daemon, "viewer", "GET", "/api/v1/changes/\(id)").status == 200)
    }
}
