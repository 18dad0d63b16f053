"""The Socket.IO tutorial's chat room, on the sio binding.

    SIO_LIBRARY=/path/to/libsio.so python examples/chat.py [--port 3000] [--client-js socket.io.min.js]

Open http://localhost:3000/ in two browsers. The page loads the Socket.IO client from --client-js (served at
/client/socket.io.min.js; scripts/fetch-client-js.sh in the project fetches it) or else from the public CDN.
"""

from __future__ import annotations

import argparse
import logging
import pathlib

import sio

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Socket.IO chat</title>
<style>body{margin:0;font-family:sans-serif}#form{position:fixed;bottom:0;left:0;right:0;display:flex;padding:4px}
#input{flex-grow:1}#messages{list-style:none;margin:0;padding:0}#messages>li{padding:.5rem 1rem}
#messages>li:nth-child(odd){background:#efefef}</style></head>
<body><ul id="messages"></ul><form id="form" action=""><input id="input" autocomplete="off"/><button>Send</button>
</form><script src="%(script)s"></script><script>
const socket = io();
const form = document.getElementById('form'), input = document.getElementById('input');
form.addEventListener('submit', (e) => { e.preventDefault();
  if (input.value) { socket.emit('chat message', input.value); input.value = ''; } });
socket.on('chat message', (msg) => { const item = document.createElement('li'); item.textContent = msg;
  document.getElementById('messages').appendChild(item); window.scrollTo(0, document.body.scrollHeight); });
</script></body></html>"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--client-js", type=pathlib.Path)
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    client_js = options.client_js.read_bytes() if options.client_js else None
    script = "/client/socket.io.min.js" if client_js else "https://cdn.socket.io/4.8.1/socket.io.min.js"
    page = PAGE % {"script": script}

    server = sio.Server()

    @server.on_http_request
    def http(method: str, path: str) -> sio.HTTPResponse:
        if path == "/" or path.startswith("/?"):
            return 200, "text/html; charset=utf-8", page
        if client_js is not None and path == "/client/socket.io.min.js":
            return 200, "application/javascript", client_js
        return None

    @server.on("connection")
    def connected(socket: sio.Socket) -> None:
        logging.info("%s connected from %s", socket.id, socket.handshake.address)

    @server.event("chat message")
    def chat_message(socket: sio.Socket, msg: str) -> None:
        server.emit("chat message", msg)

    @server.on("disconnect")
    def disconnected(socket: sio.Socket, reason: str) -> None:
        logging.info("%s left (%s)", socket.id, reason)

    with server:
        logging.info("listening on http://%s:%d/", options.host, options.port)
        server.run(options.host, options.port)  # Ctrl-C stops it gracefully


if __name__ == "__main__":
    main()
