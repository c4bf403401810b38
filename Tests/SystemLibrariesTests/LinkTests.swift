import CGit2
import CHiredis
import CLibPQ
import CYAML
import Testing

/// The install step settles the C libraries once; these prove each links and answers.
@Suite("System libraries")
struct LinkTests {
    @Test func libyaml() {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        yaml_get_version(&major, &minor, &patch)
        #expect(major == 0 && minor >= 2)
    }

    @Test func libgit2() {
        var major: Int32 = 0, minor: Int32 = 0, rev: Int32 = 0
        #expect(git_libgit2_version(&major, &minor, &rev) == 0)
        #expect(major >= 1)
    }

    @Test func libpq() {
        #expect(PQlibVersion() >= 100_000)
    }

    @Test func hiredis() {
        #expect(HIREDIS_MAJOR >= 0)
        let reader = redisReaderCreate()
        #expect(reader != nil)
        redisReaderFree(reader)
    }
}
