import FlagBus
import Foundation
import Testing

@Suite("Redis commands")
struct RedisConnectionTests {
    @Test func aFiveMegabyteBinaryValueRoundTrips() throws {
        let redis = try RedisConnection(url: TestRedis.url())
        let key = TestRedis.prefix() + "blob"
        // Every byte value, NUL and CR LF included, so nothing may treat the value as text.
        var generator = SystemRandomNumberGenerator()
        let value = (0..<5_000_000).map { _ in UInt8.random(in: 0...255, using: &generator) } + [0, 13, 10, 0]
        try redis.command(bytes: [Array("SET".utf8), Array(key.utf8), value])
        #expect(try redis.get(key) == value)
        #expect(try redis.get(key + ":missing") == nil)
        try redis.command(["DEL", key])
    }

    @Test func anErrorReplyIsThrownAndTheConnectionKeepsWorking() throws {
        let redis = try RedisConnection(url: TestRedis.url())
        let key = TestRedis.prefix() + "text"
        try redis.command(["SET", key, "not a number"])
        #expect {
            try redis.command(["INCR", key])
        } throws: { error in
            let error = error as! RedisError
            return error.operation == "INCR" && error.message.contains("not an integer") && !error.isConnectionError
        }
        try redis.ping()
        #expect(try redis.command(["DEL", key]) == .integer(1))
    }

    @Test func aTransactionSetsBothKeysAndReturnsEachReply() throws {
        let redis = try RedisConnection(url: TestRedis.url())
        let prefix = TestRedis.prefix()
        let replies = try redis.transaction([
            ["SET", prefix + "snapshot", "{}"], ["INCR", prefix + "revision"], ["GET", prefix + "snapshot"],
        ])
        #expect(replies == [.status("OK"), .integer(1), .bulk(Array("{}".utf8))])
        #expect(try redis.get(prefix + "revision") == Array("1".utf8))
        try redis.command(["DEL", prefix + "snapshot", prefix + "revision"])
    }

    @Test func aTransactionWithABadCommandThrowsAndSetsNothing() throws {
        let redis = try RedisConnection(url: TestRedis.url())
        let prefix = TestRedis.prefix()
        #expect {
            try redis.transaction([["SET", prefix + "a", "1"], ["NOSUCHCOMMAND", "x"], ["SET", prefix + "b", "2"]])
        } throws: { error in
            let error = error as! RedisError
            return error.message.contains("NOSUCHCOMMAND (command 2)") && !error.isConnectionError
        }
        #expect(try redis.get(prefix + "a") == nil)
        #expect(try redis.get(prefix + "b") == nil)
        try redis.ping()
    }

    @Test func aReplySlowerThanTheTimeoutEndsTheConnectionForGood() throws {
        let redis = try RedisConnection(url: TestRedis.url(), timeout: .milliseconds(200))
        let started = ContinuousClock.now
        let first = try #require(
            #expect(throws: RedisError.self) { try redis.command(["BLPOP", TestRedis.prefix() + "never", "2"]) })
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(first.isConnectionError)
        #expect(first.message.contains("no reply within"), "\(first)")
        // The late reply would answer the next command: the connection must stay failed.
        #expect(throws: first) { try redis.ping() }
    }

    @Test func connectingToAClosedPortFailsQuicklyWithAConnectionError() {
        let started = ContinuousClock.now
        #expect {
            try RedisConnection(url: "redis://127.0.0.1:\(freePort())")
        } throws: { error in
            let error = error as! RedisError
            return error.isConnectionError && error.operation.hasPrefix("connect to 127.0.0.1:")
        }
        #expect(ContinuousClock.now - started < .seconds(3))
    }
}
