import FlagBus
import Testing

@Suite("Redis URLs")
struct RedisURLTests {
    @Test func hostAloneTakesTheDefaultPortNoPasswordAndNoDatabase() throws {
        #expect(try RedisURL("redis://cache.internal") == RedisURL(host: "cache.internal"))
    }

    @Test func readsPortPasswordUserAndDatabase() throws {
        #expect(
            try RedisURL("redis://:s3cret@127.0.0.1:6380/2")
                == RedisURL(host: "127.0.0.1", port: 6380, password: "s3cret", database: 2))
        #expect(
            try RedisURL("REDIS://flagstaff:pa%3Ass@redis:7000/0")
                == RedisURL(host: "redis", port: 7000, username: "flagstaff", password: "pa:ss", database: 0))
        #expect(try RedisURL("redis://:p@ss/word@host/").password == "p@ss/word", "the last '@' ends the password")
        #expect(try RedisURL("redis://[::1]:6390") == RedisURL(host: "::1", port: 6390))
    }

    @Test func descriptionMasksThePassword() throws {
        let url = try RedisURL("redis://user:s3cret@host:1/3")
        #expect(url.description == "redis://user:***@host:1/3")
        #expect(try RedisURL(url.description).host == "host")
    }

    @Test(arguments: [
        ("localhost:6379", "expected redis://"),
        ("http://host", "not http://"),
        ("rediss://host", "TLS"),
        ("redis://", "no host"),
        ("redis://:6379", "no host"),
        ("redis://host:port", "port 'port'"),
        ("redis://host:0", "port '0'"),
        ("redis://host:70000", "port '70000'"),
        ("redis://host/db1", "database 'db1'"),
        ("redis://host/-1", "database '-1'"),
        ("redis://s3cret@host", "':' before the password"),
        ("redis://host?db=1", "query"),
        ("redis://[::1:6379", "closing ']'"),
    ])
    func badURLsSayWhatIsWrongWithoutThePassword(text: String, expected: String) {
        #expect {
            try RedisURL(text)
        } throws: { error in
            let error = error as! RedisError
            return error.message.contains(expected) && !error.isConnectionError && !error.message.contains("s3cret")
        }
    }
}
