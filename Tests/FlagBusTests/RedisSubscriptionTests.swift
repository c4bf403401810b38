import FlagBus
import Foundation
import Testing

@Suite("Redis subscriptions")
struct RedisSubscriptionTests {
    @Test func publishedMessagesReachChannelAndPatternSubscriptions() throws {
        let url = try TestRedis.url()
        let prefix = TestRedis.prefix()
        let subscription = try RedisSubscription(
            url: url, channels: [prefix + "flags"], patterns: [prefix + "env:*"])
        let redis = try RedisConnection(url: url)

        #expect(try redis.publish(channel: prefix + "flags", message: "hello") == 1)
        #expect(
            try subscription.next(wait: .seconds(2))
                == RedisMessage(channel: prefix + "flags", payload: Array("hello".utf8)))

        let payload: [UInt8] = [0, 1, 2, 255, 13, 10]
        #expect(try redis.publish(channel: prefix + "env:prod", message: payload) == 1)
        #expect(
            try subscription.next(wait: .seconds(2))
                == RedisMessage(channel: prefix + "env:prod", pattern: prefix + "env:*", payload: payload))
    }

    @Test func messagesPublishedTogetherArriveInOrder() throws {
        let url = try TestRedis.url()
        let channel = TestRedis.prefix() + "burst"
        let subscription = try RedisSubscription(url: url, channels: [channel])
        let redis = try RedisConnection(url: url)
        // One round trip, so they reach the subscriber in one read and later ones come from
        // hiredis' buffer rather than the socket.
        _ = try redis.transaction((1...5).map { ["PUBLISH", channel, "m\($0)"] })
        var received: [String] = []
        while let message = try subscription.next(wait: .milliseconds(500)), received.count < 5 {
            received.append(String(decoding: message.payload, as: UTF8.self))
        }
        #expect(received == ["m1", "m2", "m3", "m4", "m5"])
    }

    @Test func nextReturnsNilAfterTheWaitAndTheSubscriptionStillWorks() throws {
        let url = try TestRedis.url()
        let channel = TestRedis.prefix() + "quiet"
        let subscription = try RedisSubscription(url: url, channels: [channel])
        let started = ContinuousClock.now
        #expect(try subscription.next(wait: .milliseconds(300)) == nil)
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(290) && waited < .seconds(1), "waited \(waited)")

        try RedisConnection(url: url).publish(channel: channel, message: "after")
        #expect(try subscription.next(wait: .seconds(2))?.payload == Array("after".utf8))
    }

    @Test func aSubscriptionNeedsAChannelOrAPattern() {
        // Refused before connecting, so no server is needed at that address.
        #expect(throws: RedisError("SUBSCRIBE", message: "no channel or pattern to subscribe to")) {
            try RedisSubscription(url: "redis://127.0.0.1:1")
        }
    }
}
