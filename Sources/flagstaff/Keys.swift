import ArgumentParser
import FlagServer
import FlagStore
import Foundation

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list and revoke API keys.",
        discussion: """
            Keys live in PostgreSQL (--postgres or FLAGSTAFF_POSTGRES), or, for a daemon without a \
            database, in a keys file (--keys-file). Only a SHA-256 hash of each key is stored; the key \
            itself is shown once, when it is created.
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct Store: ParsableArguments {
        @Option(help: "PostgreSQL URL.") var postgres: String?
        @Option(help: "A keys file to use instead of PostgreSQL.") var keysFile: String?

        func target() throws -> Target {
            let settings = try Settings(configFile: nil)
            if let file = settings.value("keys-file", keysFile) { return .file(file) }
            guard let url = settings.value("postgres", postgres) else {
                throw ValidationError("give --postgres URL (or FLAGSTAFF_POSTGRES), or --keys-file FILE")
            }
            return .database(url)
        }
    }

    /// Who the audit trail names for a key made or revoked here: the local user and host.
    static var actor: String {
        let user = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName
        return "cli:\(user)@\(ProcessInfo.processInfo.hostName)"
    }

    enum Target {
        case database(String)
        case file(String)
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key; the key alone is the last line of standard output.")

        @OptionGroup var store: Store
        @Option(help: "The project the key evaluates (a manage key: the one project it may manage).")
        var project: String?
        @Option(help: "The environment the key evaluates (not for manage keys).") var environment: String?
        @Option(help: "server, client, admin, or manage (the management API).") var type: String
        @Option(help: "A manage key's role: viewer, editor or owner.") var role: String?
        @Option(help: "A name saying who uses it.") var name: String
        @Option(help: "Expiry: YYYY-MM-DD (midnight UTC) or an RFC 3339 time.") var expires: String?

        func validate() throws {
            guard let keyType = APIKeyType(rawValue: type) else {
                throw ValidationError("--type '\(type)' must be server, client, admin or manage")
            }
            if keyType == .manage {
                guard let role, ManagementRole(rawValue: role) != nil else {
                    throw ValidationError("a manage key needs --role viewer, editor or owner")
                }
                if environment != nil {
                    throw ValidationError("a manage key is bound to no environment: leave out --environment")
                }
            } else {
                if role != nil { throw ValidationError("--role is for manage keys only") }
                if project == nil { throw ValidationError("--project is required for a \(type) key") }
                if environment == nil { throw ValidationError("--environment is required for a \(type) key") }
            }
            for (option, value) in [("project", project), ("environment", environment)]
            where value.map({ $0.wholeMatch(of: /[a-z0-9][a-z0-9_.-]{0,49}/) == nil }) == true {
                throw ValidationError(
                    "--\(option) '\(value ?? "")' is not a key (lower-case letters, digits, '_', '.', '-')")
            }
            if let expires, KeysFile.parseExpiry(expires) == nil {
                throw ValidationError("--expires '\(expires)' is not a date (YYYY-MM-DD or RFC 3339)")
            }
        }

        func run() throws {
            let keyType = APIKeyType(rawValue: type)!
            let managementRole = role.flatMap(ManagementRole.init(rawValue:))
            let project = self.project ?? ""
            let environment = self.environment ?? ""
            let scope = keyType == .manage ? (project.isEmpty ? "every project" : project) : "\(project)/\(environment)"
            let expiry = expires.flatMap(KeysFile.parseExpiry)
            if let expiry, expiry <= Date() { throw ValidationError("--expires is in the past") }
            let (key, prefix) = APIKeyFormat.generate()
            let hash = APIKeyFormat.hash(key)
            let id: String
            switch try store.target() {
            case .database(let url):
                do {
                    let keys = APIKeyStore(connection: try PostgresConnection(url: url))
                    let number = try keys.create(
                        project: project, environment: environment, type: keyType.rawValue, name: name,
                        prefix: prefix, secretHash: hash, expiresAt: expiry, role: managementRole?.rawValue,
                        actor: KeysCommand.actor)
                    id = String(number)
                    if keyType != .manage, !(try keys.isRecorded(project: project, environment: environment)) {
                        printError(
                            "note: the daemon has not served \(project)/\(environment) yet; the key works once it "
                                + "does (check the names against flagstaff.yaml)")
                    }
                } catch {
                    printError("error: \(error)")
                    throw ExitStatus.failed
                }
            case .file(let path):
                let line = KeysFile.line(
                    prefix: prefix, hash: hash, type: keyType, project: project, environment: environment,
                    expires: expiry, name: name, role: managementRole)
                do {
                    try Self.append(line + "\n", to: path)
                } catch {
                    printError("error: cannot write '\(path)': \(error.localizedDescription)")
                    throw ExitStatus.failed
                }
                id = prefix
            }
            let kind = managementRole.map { "manage (\($0.rawValue))" } ?? keyType.rawValue
            print("created \(kind) key \(id) (\(prefix)) for \(scope); it is shown only now:")
            print(key)
        }

        static func append(_ text: String, to path: String) throws {
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
                else { throw CocoaError(.fileWriteNoPermission) }
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(text.utf8))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")
        @OptionGroup var store: Store

        func run() throws {
            let formatter = ISO8601DateFormatter()
            var rows: [[String]] = [
                ["ID", "PREFIX", "PROJECT", "ENVIRONMENT", "TYPE", "NAME", "EXPIRES", "STATE", "LAST USED"]
            ]
            let now = Date()
            switch try store.target() {
            case .database(let url):
                do {
                    for key in try APIKeyStore(connection: PostgresConnection(url: url)).list() {
                        let state =
                            key.revokedAt != nil ? "revoked" : (key.expiresAt.map { $0 <= now } == true ? "expired" : "active")
                        rows.append([
                            String(key.id), key.prefix, key.project.isEmpty ? "*" : key.project,
                            key.environment.isEmpty ? "-" : key.environment,
                            key.role.map { "\(key.type):\($0)" } ?? key.type, key.name,
                            key.expiresAt.map(formatter.string) ?? "-", state,
                            key.lastUsedAt.map(formatter.string) ?? "never",
                        ])
                    }
                } catch {
                    printError("error: \(error)")
                    throw ExitStatus.failed
                }
            case .file(let path):
                let keys: [APIKey]
                do {
                    keys = try KeysFile.parse(try String(contentsOfFile: path, encoding: .utf8))
                } catch {
                    printError("error: \(path): \(error)")
                    throw ExitStatus.failed
                }
                for key in keys {
                    let state = key.expiresAt.map { $0 <= now } == true ? "expired" : "active"
                    rows.append([
                        key.prefix, key.prefix, key.project.isEmpty ? "*" : key.project,
                        key.environment.isEmpty ? "-" : key.environment,
                        key.role.map { "\(key.type.rawValue):\($0.rawValue)" } ?? key.type.rawValue, key.name,
                        key.expiresAt.map(formatter.string) ?? "-", state, "-",
                    ])
                }
            }
            let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                print(
                    row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                        .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by its id (servers refuse it within seconds).")
        @OptionGroup var store: Store
        @Argument(help: "The key's id, as `keys list` shows it.") var id: String

        func run() throws {
            switch try store.target() {
            case .database(let url):
                guard let number = Int64(id) else { throw ValidationError("'\(id)' is not a key id") }
                do {
                    guard
                        try APIKeyStore(connection: PostgresConnection(url: url)).revoke(
                            id: number, actor: KeysCommand.actor)
                    else {
                        printError("error: no active key \(id)")
                        throw ExitStatus.failed
                    }
                } catch let error as StoreError {
                    printError("error: \(error)")
                    throw ExitStatus.failed
                }
            case .file(let path):
                // A keys file has no revoked state: the key's line goes.
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    printError("error: cannot read '\(path)'")
                    throw ExitStatus.failed
                }
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                let kept = lines.filter { !$0.hasPrefix(id + " ") }
                guard kept.count < lines.count else {
                    printError("error: no key \(id) in \(path)")
                    throw ExitStatus.failed
                }
                try kept.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            }
            print("revoked \(id)")
        }
    }
}
