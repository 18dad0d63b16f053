#!/usr/bin/env bash
# Builds a manylinux wheel of the Python binding (bindings/python) that carries libsio.so and every C library it
# links beyond the manylinux baseline (glibc, libstdc++, libgcc_s): libuv, libhttp_parser, libhiredis, libmsgpackc,
# libcrypto, zlib. `pip install` of it needs no Swift toolchain, no SIO_LIBRARY and no -dev package.
#
#   scripts/build-wheel.sh            -> build/wheels/sio_server-<version>-py3-none-manylinux_2_<N>_<arch>.whl
#
# Steps: the library (from $SIO_LIB_DIR if set, else scripts/build-libsio.sh builds it), a staging copy of the
# package with libsio.so.0 next to sio/__init__.py (debug sections stripped), `python -m build --wheel` (setup.py
# then tags it py3-none-linux_<arch>), and `auditwheel repair`, which copies the libraries into sio_server.libs/,
# renames them (hash suffix) and points libsio's run path there with patchelf. The policy is the one auditwheel
# reports for this library (`auditwheel show`; manylinux_2_36 on Debian 12), or $WHEEL_PLAT.
# Tools: scripts/bootstrap-packaging.sh (patchelf from Debian, the pinned build tools in .venv-packaging).
# Prints progress on stderr and the wheel's path as its last line on stdout.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=${WHEEL_DIR:-$root/build/wheels}
version=$(sed -n 's/^#define SIO_VERSION_STRING "\(.*\)"/\1/p' Include/sio.h)

bash scripts/bootstrap-packaging.sh >&2
python=$root/.venv-packaging/bin/python

if [ -n "${SIO_LIB_DIR:-}" ]; then
    library=$SIO_LIB_DIR/libsio.so.$version
else
    library=$(bash scripts/build-libsio.sh | tail -n 1)
fi
[ -f "$library" ] || { echo "build-wheel.sh: no $library (run scripts/build-libsio.sh)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/stage" "$work/dist" "$out"
# The package without its tests and anything a previous local build left behind.
tar -C bindings/python --exclude=tests --exclude=build --exclude='*.egg-info' --exclude=__pycache__ \
    --exclude='*.so*' -cf - . | tar -C "$work/stage" -xf -
strip --strip-debug -o "$work/stage/src/sio/libsio.so.0" "$library"
[ ! -f LICENSE ] || cp LICENSE "$work/stage/LICENSE"  # setuptools puts it in the wheel's .dist-info/licenses

echo "build-wheel.sh: building the wheel of $(basename "$library")" >&2
"$python" -m build --wheel --no-isolation --outdir "$work/dist" "$work/stage" >&2
wheel=$(ls "$work"/dist/*.whl)
case "$wheel" in *-py3-none-linux_*.whl) ;; *) echo "build-wheel.sh: not a platform wheel: $wheel" >&2; exit 1 ;; esac

plat=${WHEEL_PLAT:-}
if [ -z "$plat" ]; then
    # "... This constrains the platform tag to "manylinux_2_36_x86_64". ..."
    plat=$("$python" -m auditwheel show "$wheel" | tr '\n' ' ' |
        sed -n 's/.*constrains the platform tag to "\([^"]*\)".*/\1/p')
    [ -n "$plat" ] || { "$python" -m auditwheel show "$wheel" >&2; echo "build-wheel.sh: no policy" >&2; exit 1; }
fi
echo "build-wheel.sh: auditwheel repair --plat $plat" >&2
rm -f "$out"/sio_server-*.whl
"$python" -m auditwheel repair --plat "$plat" --wheel-dir "$out" "$wheel" >&2
repaired=$(ls "$out"/sio_server-*.whl)
"$python" -m auditwheel show "$repaired" >&2
echo "$repaired"
