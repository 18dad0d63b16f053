import Testing
import SocketIO
#if canImport(Glibc)
import Glibc
#endif

/// The README's Swift tour, kept compiling and run against a real loop for a moment.
@Suite struct ReadmeExampleTests {
    static func readmeExample(loop: EventLoop, port: Int, options: SocketIOOptions = SocketIOOptions()) throws -> SocketIOServer {
        let io = SocketIOServer(loop: loop, options: options)
        io.use { socket, next in
            let token = (try? JSONValue.parse(socket.handshake.auth))?["token"]?.stringValue
            next(token == nil ? MiddlewareError("not authorized", data: ["code": 401]) : nil)
        }
        io.onConnection { socket in
            socket.join("lobby")
            socket.on("chat message") { arguments, ack in
                io.to("lobby").except(socket.id).emit("chat message", arguments)
                ack?.send(true)
            }
            socket.emit("question", SocketIOArguments(["ready?"]), timeout: 5000) { result in
                print(result)
            }
        }
        io.sockets.onRoomEvent { event in
            print(event)
        }
        io.engine.onConnectionError = { error in
            print(error.code, error.message, error.contextJSON)
        }
        try io.listen(host: "127.0.0.1", port: port)
        return io
    }

    @Test func theExampleRunsOnSeveralLoopsBehindOnePort() throws {
        let loop = try EventLoop()
        var options = SocketIOOptions()
        options.loops = 3
        let io = try Self.readmeExample(loop: loop, port: 0, options: options)
        #expect(io.shards.count == 3)
        #expect(io.shards.map(\.loopIndex) == [0, 1, 2])
        #expect(Set(io.shards.map { ObjectIdentifier($0.loop) }).count == 3)
        #expect(io.port > 0)
        try loop.startThread()
        usleep(50_000)
        #expect(io.shards.allSatisfy { $0.loop.hasStarted })
        loop.stop()
        loop.join()  // returns once every loop has ended
        #expect(io.shards.dropFirst().allSatisfy { !$0.loop.execute {} })
    }

    @Test func theExampleListensAndStops() throws {
        let loop = try EventLoop()
        let io = try Self.readmeExample(loop: loop, port: 0)
        #expect(io.port > 0)
        try loop.startThread()
        loop.stop()
        loop.join()
    }

    @Test func argumentsAreValidated() {
        #expect(throws: (any Error).self) { try SocketIOArguments(json: "{\"not\":\"an array\"}") }
        #expect(throws: (any Error).self) { try SocketIOArguments(json: "[1,") }
        #expect(throws: (any Error).self) {
            try SocketIOArguments(json: "[{\"_placeholder\":true,\"num\":1}]", attachments: [[1]])
        }
        #expect((try? SocketIOArguments(json: "[{\"_placeholder\":true,\"num\":0}]", attachments: [[1]])) != nil)
    }
}
