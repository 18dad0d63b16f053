#!/usr/bin/env bash
# Builds a Node.js socket.io 4.8 peer WITHOUT npm (the npm registry is unreachable where this was written): the
# reference's packages are taken from their git repositories at the tags below, compiled with Debian's tsc 4.8
# (apt-get install node-typescript; it emits JavaScript even when it reports type errors: there is no @types/node
# here) and laid out as node_modules by hand; the small CommonJS dependencies come from Debian's node-* packages
# (/usr/share/nodejs, found through NODE_PATH). Used to capture what Node's adapters write
# (Tests/cluster/fixtures/redis-streams) and by the mixed-cluster tests when SIO_NODE_PEER points at the result.
# Not run by CI (it needs the git repositories, which CI cannot reach).
#
#   MIRROR=/work/.mirror scripts/node-peer/build.sh [/work/nodepeer]
#
# MIRROR holds bare git dirs as <owner>+<repo>/repo (what the session's fetch tool makes). Run the peer with
#   NODE_PATH=/usr/share/nodejs node scripts/node-peer/node-cluster-node.js ...   (see scripts/node-peer/README.md)
set -euo pipefail

OUT="${1:-/work/nodepeer}"
MIRROR="${MIRROR:-/work/.mirror}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

DEBIAN_PACKAGES="node-typescript node-ws node-debug node-cors node-cookie node-accepts node-base64id node-redis
  node-generic-pool node-yallist"   # node-redis: for its cluster-key-slot (its own redis 4.5 is too old)
# shellcheck disable=SC2086
if ! dpkg -s $DEBIAN_PACKAGES >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends $DEBIAN_PACKAGES
fi

rm -rf "$OUT/src" "$OUT/node_modules"
mkdir -p "$OUT/src" "$OUT/node_modules"
: >"$OUT/SOURCES.txt"

# extract NAME REPO REF PATH: the tree PATH of REPO at REF into $OUT/src/NAME, and its commit into SOURCES.txt.
extract() {
    local name="$1" repo="$2" ref="$3" path="$4"
    local git="$MIRROR/${repo/\//+}/repo"
    local commit
    commit="$(git -C "$git" rev-parse "$ref^{commit}")"
    mkdir -p "$OUT/src/$name"
    # Every file of PATH but tests, examples and benchmarks (the mirrors lack some large test blobs), through a
    # throwaway index (git archive needs every blob of the tree).
    local index
    index="$(mktemp)"
    local tree="$commit"
    [ "$path" != "." ] && tree="$commit:$path"
    GIT_INDEX_FILE="$index" git -C "$git" read-tree "$tree"
    GIT_INDEX_FILE="$index" git -C "$git" ls-files -z |
        grep -zEv '(^|/)(test|tests|examples|benchmarks?|bench|docs?|assets|\.github)/' |
        GIT_INDEX_FILE="$index" xargs -0 git -C "$git" --work-tree="$OUT/src/$name" checkout-index --
    rm -f "$index"
    printf '%-36s %-45s %-28s %s\n' "$name" "github.com/$repo" "$ref" "$commit" >>"$OUT/SOURCES.txt"
}

# compile NAME [tsc options...]: tsc in $OUT/src/NAME with the package's own tsconfig (or the options given), then
# the package goes to node_modules/NAME. Type errors are expected (no @types/node) and shown only as a count.
compile() {
    local name="$1"
    shift
    local dir="$OUT/src/$name"
    local errors
    errors=$(cd "$dir" && tsc "$@" --skipLibCheck --incremental false --declaration false --sourceMap false \
        --noEmitOnError false 2>&1 | grep -c "error TS" || true)
    echo "build.sh: $name compiled ($errors type errors reported, expected without @types/node)"
    install_package "$name"
}

install_package() {
    local name="$1"
    mkdir -p "$(dirname "$OUT/node_modules/$name")"
    ln -sfn "$OUT/src/$name" "$OUT/node_modules/$name"
}

# --- sources (tags; the commits land in SOURCES.txt) -------------------------------------------------------------
extract socket.io                       socketio/socket.io                     socket.io@4.8.3         packages/socket.io
extract engine.io                       socketio/socket.io                     engine.io@6.6.9         packages/engine.io
extract engine.io-parser                socketio/socket.io                     engine.io-parser@5.2.3  packages/engine.io-parser
extract socket.io-adapter               socketio/socket.io                     socket.io-adapter@2.5.8 packages/socket.io-adapter
extract socket.io-parser                socketio/socket.io                     socket.io-parser@4.2.6  packages/socket.io-parser
extract @socket.io/component-emitter    socketio/socket.io                     socket.io@4.8.3         packages/socket.io-component-emitter
extract @socket.io/redis-streams-adapter socketio/socket.io-redis-streams-adapter 0.3.1                .
extract @socket.io/redis-adapter        socketio/socket.io-redis-adapter       8.3.0                   .
extract @msgpack/msgpack                msgpack/msgpack-javascript             v2.8.0                  .
extract @redis/client                   redis/node-redis                       redis@4.7.1             packages/client
extract uid2                            coreh/uid2                             1.0.0                   .
# notepack.io: the mirror's newest is 2.3.0 (the redis-adapter asks ~3.0.1, which is not on GitHub here). 3.0 changed
# only undefined (nil instead of d4 00 00), Date (timestamp ext -1) and ArrayBuffer (bin) encodings: see the
# sharded fixture's .md.
extract notepack.io                     darrachequesne/notepack                2.3.0                   .

# --- compile ------------------------------------------------------------------------------------------------------
compile socket.io -p tsconfig.json
compile engine.io -p tsconfig.json
compile engine.io-parser -p tsconfig.json
compile socket.io-adapter -p tsconfig.json
compile socket.io-parser -p tsconfig.json
install_package @socket.io/component-emitter          # ships compiled (lib/cjs)
compile @socket.io/redis-streams-adapter -p tsconfig.json
compile @socket.io/redis-adapter -p tsconfig.json
compile @msgpack/msgpack -p tsconfig.dist.json
# node-redis' tsconfig extends @tsconfig/node14 (not here): its options, written out.
cat >"$OUT/src/@redis/client/tsconfig.peer.json" <<'JSON'
{
  "compilerOptions": {
    "target": "es2020", "module": "commonjs", "lib": ["es2020"], "strict": true, "esModuleInterop": false,
    "declaration": false, "allowJs": true, "useDefineForClassFields": true, "resolveJsonModule": true,
    "outDir": "./dist"
  },
  "include": ["./index.ts", "./lib/**/*.ts", "./package.json"],
  "exclude": ["./lib/test-utils.ts", "./lib/**/*.spec.ts"]
}
JSON
compile @redis/client -p tsconfig.peer.json
install_package notepack.io                           # plain JavaScript
install_package uid2

# The packages resolve each other through $OUT/node_modules; Debian's through NODE_PATH=/usr/share/nodejs.
cd "$OUT"
NODE_PATH=/usr/share/nodejs node -e '
for (const m of ["socket.io", "engine.io", "socket.io-adapter", "socket.io-parser", "@socket.io/redis-streams-adapter",
                 "@socket.io/redis-adapter", "@msgpack/msgpack", "@redis/client", "notepack.io", "uid2"]) {
  const version = JSON.parse(require("fs").readFileSync("node_modules/" + m + "/package.json")).version;
  require(m);
  console.log("build.sh: " + m + " " + version + " loads");
}'
echo "build.sh: sources in $OUT/SOURCES.txt:"
cat "$OUT/SOURCES.txt"
