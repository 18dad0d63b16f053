import Testing
import SocketIO

/// A multi-loop server's parts go when the application drops its server: no reference cycle between the servers of
/// the loops (the first owns the group, the group owns the others).
@Suite struct MultiLoopLifetimeTests {
    @Test(arguments: [false, true])
    func theServersOfEveryLoopAreFreed(run: Bool) throws {
        weak var first: SocketIOServer?
        weak var last: SocketIOServer?
        weak var lastLoop: EventLoop?
        do {
            let loop = try EventLoop()
            var options = SocketIOOptions()
            options.loops = 3
            let io = SocketIOServer(loop: loop, options: options)
            io.onConnection { socket in socket.emit("hello") }
            first = io
            last = io.shards[2]
            lastLoop = io.shards[2].loop
            try io.listen(host: "127.0.0.1", port: 0)
            if run {
                try loop.startThread()
                loop.stop()
                loop.join()
            } else {
                loop.stop(graceMilliseconds: 0)
                loop.run()
            }
        }
        #expect(first == nil)
        #expect(last == nil)
        #expect(lastLoop == nil)
    }
}
