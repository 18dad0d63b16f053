#!/usr/bin/env bash
# User-space instructions the server executes per echo-ack, counted by cachegrind: a figure that does not drift with
# the host (CPU time on a shared VM moves by +-20% between runs). Kernel work is not in it: read it beside run.py's
# CPU figures, not instead of them.
#
#   Benchmarks/instructions_per_ack.sh [--parser json|msgpack] [--binary BYTES] [--seconds N] [--bin PATH]
#
# Needs valgrind (apt-get install valgrind) and the load generator (make -C Benchmarks/loadgen, run.py builds it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
parser=json binary=0 seconds=8 bin="$ROOT/.build/release/sio-bench-server"
while (($#)); do
    case "$1" in
        --parser) parser="$2"; shift 2 ;;
        --binary) binary="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown flag $1 (see --help)" >&2; exit 2 ;;
    esac
done
command -v valgrind >/dev/null || { echo "valgrind is not installed: apt-get install valgrind" >&2; exit 2; }
loadgen="$ROOT/Benchmarks/.build/loadgen"
[[ -x "$loadgen" ]] || make -s -C "$ROOT/Benchmarks/loadgen" >/dev/null
[[ -x "$bin" ]] || { echo "$bin not found: swift build -c release --product sio-bench-server" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$work/cachegrind.out" \
    "$bin" --port "$port" --parser "$parser" >/dev/null 2>"$work/valgrind.log" &
server=$!
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
# No warm-up: every ack the server answers is counted (its start and the handshakes add a few hundred per ack).
"$loadgen" echo-ack --port "$port" --parser "$parser" --binary "$binary" --clients 100 --inflight 4 \
    --duration "$seconds" --warmup 0 --quiet >"$work/loadgen.json"
kill -INT "$server"
wait "$server" || true
python3 - "$work/cachegrind.out" "$work/loadgen.json" "$parser" "$binary" <<'PY'
import json, sys
instructions = next(int(line.split()[1]) for line in open(sys.argv[1]) if line.startswith("summary:"))
acks = json.load(open(sys.argv[2]))["metrics"]["acks"]
print(json.dumps({"parser": sys.argv[3], "binary_bytes": int(sys.argv[4]), "acks": acks,
                  "instructions_per_ack": round(instructions / acks)}))
PY
