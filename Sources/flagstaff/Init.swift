import ArgumentParser
import FlagCompiler
import FlagModel
import Foundation

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scaffold a new flag repository: a manifest, a first flag, a segment and golden tests.")

    @Argument(help: "The folder to create it in (default: the current folder).")
    var directory: String = "."

    @Option(help: "The organization key.")
    var organization: String = "acme"

    @Option(help: "The first project's key.")
    var project: String = "app"

    @ArgumentParser.Flag(help: "Write even if the folder already holds a flagstaff.yaml.")
    var force = false

    func validate() throws {
        for (what, key) in [("organization", organization), ("project", project)] where !Keys.isValid(key) {
            throw ValidationError("'\(key)' is not a valid \(what) key: \(Keys.rule)")
        }
    }

    func run() throws {
        let fm = FileManager.default
        let manifestPath = (directory as NSString).appendingPathComponent("flagstaff.yaml")
        if fm.fileExists(atPath: manifestPath), !force {
            printError("\(manifestPath) already exists; use --force to overwrite")
            throw ExitStatus.failed
        }
        let files: [(String, String)] = [
            ("flagstaff.yaml", Scaffold.manifest(organization: organization, project: project)),
            ("\(project)/flags/welcome-banner.yaml", Scaffold.flag),
            ("\(project)/segments/internal-users.yaml", Scaffold.segment),
        ]
        for (relative, content) in files {
            let path = (directory as NSString).appendingPathComponent(relative)
            try fm.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(content.utf8).write(to: URL(fileURLWithPath: path))
            print("created \(path)")
        }
        print("next: flagstaff validate --repo \(directory)")
    }
}

enum Scaffold {
    static func manifest(organization: String, project: String) -> String {
        """
        # The Flagstaff manifest: projects, environments (one Git branch each) and the context schema.
        version: 1
        organization: \(organization)
        projects:
          \(project): { name: \(project) }
        environments:
          production: { branch: main, production: true }
          staging: { branch: staging }
        context:
          email: string
          plan: { type: string, enum: [free, pro, enterprise] }

        """
    }

    static let flag = """
        # A boolean flag: off for everyone but internal users and a quarter of pro users.
        name: Welcome banner
        description: Shows the new welcome banner on the home page.
        owner: team-web
        rules:
          - name: internal users
            when: [ { segment: internal-users } ]
            serve: on
          - name: quarter of pro users
            when: [ { attribute: plan, op: in, values: [pro] } ]
            rollout: 25
            serve: on
        default: off
        environments:
          staging: { default: on }
        tests:
          - { context: { targetingKey: u1, email: dev@example.com }, expect: on }
          - { environment: production, context: { targetingKey: u2, plan: free }, expect: off }
          - { environment: staging, context: { targetingKey: u2, plan: free }, expect: on }

        """

    static let segment = """
        # Everyone with a company address.
        name: Internal users
        when:
          - { attribute: email, op: ends_with, values: ["@example.com"], case_insensitive: true }

        """
}
