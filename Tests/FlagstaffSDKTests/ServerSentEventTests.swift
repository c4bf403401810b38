import Testing

@testable import FlagstaffSDK

@Suite("Server-Sent Events, parsed as the bytes arrive")
struct ServerSentEventTests {
    @Test func eventsSplitAcrossChunksComeOutWhole() {
        let text = "retry: 2000\n\n: keep-alive\n\nid: 3\nevent: snapshot\ndata: {\"a\":\ndata: 1}\n\nid: 4\ndata: x\r\n\r\n"
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        // One byte at a time: no event may depend on where the network cut the stream.
        for byte in text.utf8 { events += parser.feed([byte]) }
        #expect(
            events == [
                ServerSentEvent(id: "3", event: "snapshot", data: "{\"a\":\n1}"),
                ServerSentEvent(id: "4", event: "message", data: "x"),
            ])
    }

    @Test func aCommentOrAnEmptyEventGivesNothing() {
        var parser = ServerSentEventParser()
        #expect(parser.feed(Array(": keep-alive\n\nevent: snapshot\n\n".utf8)).isEmpty)
    }
}
