import Testing
@testable import SocketIORedisStreams

@Suite struct Placeholder { @Test func nothing() {} }
