import FlagBus
import Foundation
import Testing

@Suite("Redis connection loss")
struct ConnectionLossTests {
    @Test func callsAfterTheServerWentAwayThrowConnectionErrorsAndANewConnectionWorksOnceItIsBack() throws {
        let server = try ThrowawayRedis(password: "s3cret")
        defer { server.remove() }
        let channel = TestRedis.prefix() + "lost"
        let redis = try RedisConnection(url: server.url(database: 2))
        let subscription = try RedisSubscription(url: server.url(), channels: [channel])
        // The password and the database in the URL were used.
        #expect(try redis.command(["CLIENT", "INFO"]).string?.contains(" db=2 ") == true)

        server.stop()

        let lost = try #require(#expect(throws: RedisError.self) { try redis.command(["SET", channel, "x"]) })
        #expect(lost.isConnectionError)
        #expect(throws: lost, "a dead connection keeps throwing the same error") { try redis.ping() }
        #expect {
            try subscription.next(wait: .seconds(2))
        } throws: { error in
            (error as! RedisError).isConnectionError
        }

        try server.start()
        try RedisConnection(url: server.url()).ping()
        #expect(throws: lost, "an old connection stays failed") { try redis.ping() }
    }

    @Test func aWrongPasswordIsNotAConnectionError() throws {
        let server = try ThrowawayRedis(password: "s3cret")
        defer { server.remove() }
        #expect {
            try RedisConnection(url: "redis://:wrong@127.0.0.1:\(server.port)")
        } throws: { error in
            let error = error as! RedisError
            return error.operation == "AUTH" && !error.isConnectionError
        }
    }
}
