import Foundation
import Testing

/// A real Git repository in a temporary folder, driven by the `git` command line.
struct GitFixture {
    let path: String

    init(bare: Bool = false) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("flagstaff-git-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try git(bare ? ["init", "-q", "--bare", "-b", "main"] : ["init", "-q", "-b", "main"])
    }

    @discardableResult
    func git(_ arguments: [String], at directory: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? path)
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_AUTHOR_NAME"] = "Kim Author"
        environment["GIT_AUTHOR_EMAIL"] = "kim@acme.test"
        environment["GIT_COMMITTER_NAME"] = "Lee Committer"
        environment["GIT_COMMITTER_EMAIL"] = "lee@acme.test"
        environment["GIT_CONFIG_NOSYSTEM"] = "1"
        environment["HOME"] = path
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw FixtureError(message: "git \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func write(_ files: [String: String]) throws {
        for (relative, text) in files {
            let url = URL(fileURLWithPath: path).appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
    }

    func remove(_ relative: String) throws {
        try FileManager.default.removeItem(atPath: path + "/" + relative)
    }

    /// Writes, stages everything and commits; returns the new commit's SHA.
    @discardableResult
    func commit(_ files: [String: String], message: String) throws -> String {
        try write(files)
        try git(["add", "-A"])
        try git(["commit", "-q", "-m", message])
        return try git(["rev-parse", "HEAD"])
    }

    struct FixtureError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static let manifest = """
        version: 1
        organization: acme
        projects: { shop: {} }
        environments:
          production: { branch: main, production: true }
          staging: { branch: staging }
        """
}
