"""A server on the *installed* wheel, for test_wheel.py (copied to a temporary folder and run from there, in a mount
namespace where the repository and the toolchain do not exist).

    python wheel_server.py PORT

Prints one line `READY {json}` (the library path and every shared object this process has mapped) once it
listens, then serves until SIGINT: echo with ack, binary echo, rooms and broadcasts, middleware with an auth token,
an emit with ack from the server ("question").
"""

import json
import sys

import sio

port = int(sys.argv[1])
server = sio.Server()


@server.use
def auth(socket):
    if (socket.handshake.auth or {}).get("token") != "secret":
        raise sio.ConnectionRefused("not authorized", {"code": 401})


@server.on("connection")
def connected(socket):
    socket.emit("welcome", {"library": sio.library_path, "version": sio.library_version})


@server.event
def echo(socket, data):
    return data


@server.event
def binary(socket, data):
    return data[::-1]


@server.event
def join(socket, room):
    socket.join(room)
    return sorted(socket.rooms)


@server.event
def shout(socket, room, message):
    server.to(room).emit("shout", message)
    return True


@server.event
def ask(socket):
    socket.emit("question", "ready?", callback=lambda answer: socket.emit("answer", answer))
    return True


server.listen("127.0.0.1", port)
maps = sorted({line.split()[-1] for line in open("/proc/self/maps") if ".so" in line})
print("READY " + json.dumps({"library": sio.library_path, "version": sio.library_version, "maps": maps}),
      flush=True)
server.run()
