import FlagModel
import Foundation
import Testing

/// `--ref` reads flags from a commit through libgit2, whatever the working tree holds.
@Suite("--ref on validate, compile, eval and test", .serialized)
struct RefTests {
    static let manifest = """
        version: 1
        organization: acme
        projects: { shop: {} }
        environments:
          production: { branch: main, production: true }
        """


    /// A repository whose root is `flags/`: `good` tag has a valid flag, `main` a broken one,
    /// and the working tree a third, uncommitted version.
    func repository() throws -> URL {
        let dir = try CLI.temporaryDirectory()
        try CLI.git(["init", "-q", "-b", "main"], in: dir)
        try CLI.write(
            [
                "flags/flagstaff.yaml": Self.manifest,
                "flags/shop/flags/f.yaml": "default: on\ntests: [ { context: {}, expect: on } ]\n",
            ], under: dir)
        try CLI.git(["add", "-A"], in: dir)
        try CLI.git(["commit", "-q", "-m", "good"], in: dir)
        try CLI.git(["tag", "good"], in: dir)
        try CLI.write(["flags/shop/flags/f.yaml": "default: onn\n"], under: dir)
        try CLI.git(["commit", "-q", "-am", "broken"], in: dir)
        try CLI.write(["flags/shop/flags/f.yaml": "default: off\n"], under: dir)
        return dir
    }

    @Test func validateAndTestReadTheNamedCommit() throws {
        let dir = try repository()
        #expect(try CLI.run(["validate", "--repo", dir.path, "--root", "flags", "--ref", "good"]).status == 0)
        let broken = try CLI.run(["validate", "--repo", dir.path, "--root", "flags", "--ref", "main"])
        #expect(broken.status == 1)
        #expect(broken.stderr.contains("shop/flags/f.yaml:1:10: error[E200]"), "\(broken.stderr)")
        #expect(broken.stderr.contains("1 | default: onn"), "the excerpt comes from the commit, not the disk")
        #expect(try CLI.run(["validate", "--repo", dir.path, "--root", "flags"]).status == 0, "working tree")
        let tests = try CLI.run(["test", "--repo", dir.path, "--root", "flags", "--ref", "good"])
        #expect(tests.stdout.contains("1 passed, 0 failed"), "\(tests.stdout)")
    }

    @Test func evalAndCompileRecordTheCommit() throws {
        let dir = try repository()
        let eval = try CLI.run(["eval", "--repo", dir.path, "--root", "flags", "--ref", "good", "--flag", "f"])
        #expect(try JSONParser.parse(eval.stdout)["variant"] == "on")
        let disk = try CLI.run(["eval", "--repo", dir.path, "--root", "flags", "--flag", "f"])
        #expect(try JSONParser.parse(disk.stdout)["variant"] == "off")
        let compiled = try CLI.run(["compile", "--repo", dir.path, "--root", "flags", "--ref", "good"])
        let snapshot = try JSONParser.parse(compiled.stdout)
        #expect(snapshot["commit"]?.stringValue?.count == 40)
    }

    @Test func anUnknownRefIsAClearError() throws {
        let dir = try repository()
        let out = try CLI.run(["validate", "--repo", dir.path, "--root", "flags", "--ref", "nope"])
        #expect(out.status == 1)
        #expect(out.stderr.contains("no branch, tag or commit named 'nope'"), "\(out.stderr)")
        let notARepo = try CLI.run(["validate", "--repo", try CLI.temporaryDirectory().path, "--ref", "main"])
        #expect(notARepo.status == 1)
        #expect(notARepo.stderr.contains("open repository"), "\(notARepo.stderr)")
    }
}
