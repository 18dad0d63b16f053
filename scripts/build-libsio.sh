#!/usr/bin/env bash
# Builds libsio.so (release, Swift runtime linked statically, SONAME libsio.so.0, only sio_* exported) and the
# sio.pc pkg-config file into build/lib. `make install PREFIX=...` lays them out for C users.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
major=$(sed -n 's/^#define SIO_VERSION_MAJOR \([0-9]*\)/\1/p' Include/sio.h)
version=$(sed -n 's/^#define SIO_VERSION_STRING "\(.*\)"/\1/p' Include/sio.h)
# A build folder of its own: its flags (static Swift runtime, SONAME) differ from the other release builds
# (scripts/demo.sh, the benchmarks), which would otherwise rebuild each other's objects on every switch.
scratch=(--scratch-path "$root/.build-libsio")
swift build -c release "${scratch[@]}" --product sio -Xswiftc -static-stdlib \
    -Xlinker -soname=libsio.so."$major" -Xlinker --version-script="$root/Include/sio.map" >&2
bin=$(swift build -c release "${scratch[@]}" --show-bin-path)
mkdir -p build/lib build/include
cp "$bin/libsio.so" build/lib/libsio.so."$version"
ln -sf libsio.so."$version" build/lib/libsio.so."$major"
ln -sf libsio.so."$major" build/lib/libsio.so
cp Include/sio.h build/include/sio.h
echo "$root/build/lib/libsio.so.$version"
