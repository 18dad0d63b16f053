#!/usr/bin/env bash
# Builds and starts the chat demo on a fresh Debian machine: installs the C libraries, fetches the official
# client bundle, builds `sio-chat` (release) and runs it. Open http://localhost:3000 in two tabs.
# Extra arguments go to sio-chat, e.g.  scripts/demo.sh --port 8080
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if ! command -v swift >/dev/null; then
    echo "demo.sh: a Swift 6.1 or newer toolchain is needed (swift.org/install); 'swift' is not on PATH" >&2
    exit 1
fi
bash scripts/bootstrap.sh
client_js="$(bash scripts/fetch-client-js.sh | tail -n 1)"
swift build -c release --product sio-chat
exec "$(swift build -c release --show-bin-path)/sio-chat" --client-js "$client_js" "$@"
