#!/usr/bin/env bash
# Builds the binary package for C and C++ users: a relocatable tarball that unpacks into any prefix.
#
#   scripts/build-package.sh   -> build/packages/sio-<version>-linux-<arch>.tar.gz
#
#   sio-<version>-linux-<arch>/
#     lib/libsio.so.<version>, lib/libsio.so.<major> -> ..., lib/libsio.so -> ...   (Swift runtime inside, static)
#     include/sio.h (and sio.hpp when the project has it)
#     lib/pkgconfig/sio.pc        prefix=${pcfiledir}/../..: right wherever the tree is put
#     share/doc/sio/README        how to install and build against it; the Debian runtime packages it needs
#     share/doc/sio/runtime-packages.txt   those packages, one a line (e.g. libuv1, libhttp-parser2.9, libssl3)
#
# libsio.so needs only runtime libraries (the packages listed, found by dpkg from what its DT_NEEDED resolve to),
# no Swift toolchain and no -dev package. The library comes from $SIO_LIB_DIR if set, else
# scripts/build-libsio.sh builds it; its debug sections are stripped. Prints its path as the last line on stdout.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=${PACKAGE_DIR:-$root/build/packages}
version=$(sed -n 's/^#define SIO_VERSION_STRING "\(.*\)"/\1/p' Include/sio.h)
major=$(sed -n 's/^#define SIO_VERSION_MAJOR \([0-9]*\)/\1/p' Include/sio.h)
arch=$(uname -m)
name=sio-$version-linux-$arch

if [ -n "${SIO_LIB_DIR:-}" ]; then
    library=$SIO_LIB_DIR/libsio.so.$version
else
    library=$(bash scripts/build-libsio.sh | tail -n 1)
fi
[ -f "$library" ] || { echo "build-package.sh: no $library (run scripts/build-libsio.sh)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/$name
mkdir -p "$tree/lib/pkgconfig" "$tree/include" "$tree/share/doc/sio" "$out"
strip --strip-debug -o "$tree/lib/libsio.so.$version" "$library"
chmod 755 "$tree/lib/libsio.so.$version"
ln -s "libsio.so.$version" "$tree/lib/libsio.so.$major"
ln -s "libsio.so.$major" "$tree/lib/libsio.so"
install -m 644 Include/sio.h "$tree/include/sio.h"
[ ! -f Include/sio.hpp ] || install -m 644 Include/sio.hpp "$tree/include/sio.hpp"
# The pkg-config file of `make install`, with a prefix relative to where the file itself lies.
sed -e '1s|.*|# pkg-config file for libsio, from the relocatable package (scripts/build-package.sh): prefix is ../..|' \
    -e 's|@PREFIX@|${pcfiledir}/../..|' -e "s|@VERSION@|$version|" scripts/sio.pc.in > "$tree/lib/pkgconfig/sio.pc"
[ ! -f LICENSE ] || install -m 644 LICENSE "$tree/share/doc/sio/LICENSE"

# The Debian packages owning the libraries libsio's DT_NEEDED resolve to (glibc, libstdc++, zlib, libuv, ...).
# dpkg may record a file under /lib or /usr/lib (merged /usr), and the SONAME link or its target: try each.
owner() {
    local candidate
    for candidate in "$1" "$(readlink -f "$1")"; do
        for candidate in "$candidate" "${candidate#/usr}" "/usr$candidate"; do
            dpkg -S "$candidate" 2>/dev/null | cut -d: -f1 | head -n 1 | grep . && return 0
        done
    done
    echo "build-package.sh: no Debian package owns $1" >&2
    return 1
}
ldd "$tree/lib/libsio.so.$version" | awk '/=> \// { print $3 }' | while read -r path; do
    owner "$path"
done | sort -u > "$tree/share/doc/sio/runtime-packages.txt"
if ldd "$tree/lib/libsio.so.$version" | grep -q 'not found'; then
    echo "build-package.sh: unresolved dependencies:" >&2; ldd "$tree/lib/libsio.so.$version" >&2; exit 1
fi
packages=$(paste -sd' ' "$tree/share/doc/sio/runtime-packages.txt")
cat > "$tree/share/doc/sio/README" <<DOC
sio $version: Socket.IO server engine (Engine.IO v4, Socket.IO v5) with a C ABI, for Linux $arch (glibc).

Needs at run time only these Debian packages (no Swift toolchain, no -dev package):
    apt-get install $packages

Install: unpack anywhere, e.g. into /opt/sio (PREFIX):
    mkdir -p /opt/sio && tar -xzf $name.tar.gz -C /opt/sio --strip-components=1

Build and run a program (the .pc file finds its own prefix, wherever the tree is):
    export PKG_CONFIG_PATH=/opt/sio/lib/pkgconfig
    cc app.c \$(pkg-config --cflags --libs sio) -Wl,-rpath,\$(pkg-config --variable=libdir sio) -o app
    ./app
Instead of the run path: LD_LIBRARY_PATH=/opt/sio/lib ./app, or unpack into /usr/local and run ldconfig.
The header documents every function's ownership, lifetime and thread rules.
DOC

rm -f "$out/$name.tar.gz"
tar -C "$work" --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"
echo "build-package.sh: $(du -h "$out/$name.tar.gz" | cut -f1) runtime packages: $packages" >&2
echo "$out/$name.tar.gz"
