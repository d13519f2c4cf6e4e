"""Build the Cython extensions of the cs231n package (``cs231n/*.pyx``), if it has any.

Metadata lives in pyproject.toml. A kit without .pyx files installs as pure Python. Without a C compiler
the package still installs: the extension is skipped with a warning and ``cs231n.fast_layers`` uses its
numpy fallback (same results, slower convolutions).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.extension import Extension

SKIPPED = (
    "{name} was not built ({error}). cs231n.fast_layers will use its numpy fallback: same results, slower "
    "convolutions. To build it, install a C compiler (Debian/Ubuntu: sudo apt-get install build-essential "
    "python3-dev; macOS: xcode-select --install) and run `pip install -e .` in this folder again."
)


class OptionalBuildExt(build_ext):
    """Build the extensions if a compiler is there; warn instead of failing the install."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # setuptools raises several unrelated types for a missing compiler
            self.warn(SKIPPED.format(name="cs231n's Cython extension", error=exc))

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self.warn(SKIPPED.format(name=ext.name, error=exc))


def extensions():
    sources = sorted(Path("cs231n").glob("*.pyx"))
    if not sources:
        return []
    # Only a package with .pyx sources lists numpy and Cython among its build requirements.
    import numpy as np
    from Cython.Build import cythonize

    return cythonize(
        [
            Extension(
                f"cs231n.{source.stem}",
                [source.as_posix()],
                include_dirs=[np.get_include()],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                extra_compile_args=["-O3"],
            )
            for source in sources
        ],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
