import Testing
import SocketIO

/// The README's Swift tour, kept compiling and run against a real loop for a moment.
@Suite struct ReadmeExampleTests {
    static func readmeExample(loop: EventLoop, port: Int) throws -> SocketIOServer {
        let io = SocketIOServer(loop: loop)
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
