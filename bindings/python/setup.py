"""setuptools hook for the one case pyproject.toml cannot express: a wheel that carries libsio.

A plain ``pip install ./bindings/python`` builds a pure wheel (``py3-none-any``): the binding then finds libsio
through ``SIO_LIBRARY`` or the system's loader (see ``src/sio/_lib.py``). ``scripts/build-wheel.sh`` copies the
package to a staging folder and puts ``libsio.so.0`` next to ``sio/__init__.py`` first; this file then marks the
wheel as a platform wheel (``py3-none-linux_<arch>``: ctypes needs no particular CPython ABI) so that
``auditwheel repair`` accepts it, bundles the C libraries libsio needs and retags it ``manylinux_2_XX``.
"""

from __future__ import annotations

import pathlib

from setuptools import Distribution, setup

try:
    from setuptools.command.bdist_wheel import bdist_wheel  # setuptools >= 70.1
except ImportError:  # older setuptools with the separate wheel package
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

#: Where scripts/build-wheel.sh puts the native library in its staging copy (never in the repository).
BUNDLED = pathlib.Path(__file__).resolve().parent / "src" / "sio" / "libsio.so.0"


class NativeDistribution(Distribution):
    """With the bundled library the wheel is a platform wheel: its files go to platlib, as auditwheel requires."""

    def has_ext_modules(self) -> bool:
        return BUNDLED.is_file() or super().has_ext_modules()


class platform_wheel(bdist_wheel):
    def get_tag(self) -> tuple[str, str, str]:
        python, abi, platform = super().get_tag()
        if BUNDLED.is_file():
            return "py3", "none", platform  # ctypes only: any CPython 3, one platform
        return python, abi, platform


setup(distclass=NativeDistribution, cmdclass={"bdist_wheel": platform_wheel})
