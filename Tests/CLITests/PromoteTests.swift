import Foundation
import Testing

@Suite("flagstaff promote", .serialized)
struct PromoteTests {
    static let manifest = CLI.twoEnvironmentManifest


    /// main (production) has flags a and b; staging changes a, adds c (which uses segment s)
    /// and changes b.
    func repository() throws -> URL {
        let dir = try CLI.temporaryDirectory()
        try CLI.git(["init", "-q", "-b", "main"], in: dir)
        try CLI.write(
            ["flagstaff.yaml": Self.manifest, "shop/flags/a.yaml": "default: off\n", "shop/flags/b.yaml": "default: off\n"],
            under: dir)
        try CLI.git(["add", "-A"], in: dir)
        try CLI.git(["commit", "-q", "-m", "base"], in: dir)
        try CLI.git(["checkout", "-q", "-b", "staging"], in: dir)
        try CLI.write(
            [
                "shop/flags/a.yaml": "default: on\n", "shop/flags/b.yaml": "default: on\n",
                "shop/flags/c.yaml": "rules: [ { when: [ { segment: s } ], serve: on } ]\n",
                "shop/segments/s.yaml": "include: [u1]\n",
            ], under: dir)
        try CLI.git(["add", "-A"], in: dir)
        try CLI.git(["commit", "-q", "-m", "staging work"], in: dir)
        try CLI.git(["checkout", "-q", "main"], in: dir)
        return dir
    }

    @Test func promotesChosenFlagsWithTheSegmentsTheyUse() throws {
        let dir = try repository()
        let mainBefore = try CLI.git(["rev-parse", "main"], in: dir)
        let out = try CLI.run(
            ["promote", "--repo", dir.path, "--from", "staging", "--to", "production", "--flag", "c", "--branch", "promo"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("Promote 1 flag and 1 segment from staging to production"))
        #expect(try CLI.git(["rev-parse", "main"], in: dir) == mainBefore, "the target branch is never written")
        #expect(try CLI.git(["rev-parse", "promo^"], in: dir) == mainBefore, "the branch starts at the target's tip")
        let files = try CLI.git(["diff", "--name-status", "main", "promo"], in: dir)
        #expect(files == "A\tshop/flags/c.yaml\nA\tshop/segments/s.yaml")
        #expect(try CLI.git(["log", "-1", "--format=%B", "promo"], in: dir).contains("- shop flag c: added"))
        #expect(try CLI.git(["status", "--porcelain"], in: dir).isEmpty, "the work tree is untouched")
    }

    @Test func promotesEverythingWhenNoFlagIsNamed() throws {
        let dir = try repository()
        let out = try CLI.run(["promote", "--repo", dir.path, "--from", "staging", "--to", "production", "--branch", "all"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("Promote 3 flags and 1 segment"))
        #expect(try CLI.git(["diff", "--name-only", "staging", "all"], in: dir).isEmpty, "the branch now holds staging's flags")
        let again = try CLI.run(["promote", "--repo", dir.path, "--from", "staging", "--to", "production", "--branch", "all"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("branch 'all' already exists"), "\(again.stderr)")
    }

    @Test func aPromotionThatDoesNotCompileCreatesNoBranch() throws {
        let dir = try repository()
        try CLI.git(["checkout", "-q", "staging"], in: dir)
        try CLI.write(["shop/flags/a.yaml": "requires: [ { flag: nowhere, variants: [on] } ]\ndefault: on\n"], under: dir)
        try CLI.git(["commit", "-q", "-am", "broken"], in: dir)
        try CLI.git(["checkout", "-q", "main"], in: dir)
        let out = try CLI.run(
            ["promote", "--repo", dir.path, "--from", "staging", "--to", "production", "--flag", "a", "--branch", "bad"])
        #expect(out.status == 1)
        #expect(out.stderr.contains("error[E202]"), "\(out.stderr)")
        #expect(out.stderr.contains("no branch was created"))
        #expect(try CLI.git(["branch", "--list", "bad"], in: dir).isEmpty)
    }

    @Test func unknownEnvironmentsAndFlagsAreUsageErrors() throws {
        let dir = try repository()
        #expect(try CLI.run(["promote", "--repo", dir.path, "--from", "stage", "--to", "production"]).status == 2)
        #expect(try CLI.run(["promote", "--repo", dir.path, "--from", "staging", "--to", "production", "--flag", "zz"]).status == 2)
    }

    @Test func theTargetKeepsItsOwnOverlays() throws {
        let dir = try repository()
        // Production switched a off in its own overlay; staging's a knows nothing of it.
        try CLI.write(
            ["shop/flags/a.yaml": "default: off\nenvironments:\n  production: { enabled: false }  # incident\n"], under: dir)
        try CLI.git(["commit", "-q", "-am", "kill a"], in: dir)
        let out = try CLI.run(
            ["promote", "--repo", dir.path, "--from", "staging", "--to", "production", "--flag", "a", "--branch", "keep"])
        #expect(out.status == 0, "\(out.stderr)")
        let promoted = try CLI.git(["show", "keep:shop/flags/a.yaml"], in: dir)
        #expect(promoted.contains("default: on"), "\(promoted)")
        #expect(promoted.contains("production: { enabled: false }"), "\(promoted)")
    }
}
