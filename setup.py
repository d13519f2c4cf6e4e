"""Build the optional Cython extension ``cs231n.im2col_cython``.

Metadata lives in pyproject.toml. Without a C compiler the package still installs:
``cs231n.fast_layers`` then falls back to its numpy path and says so once at import.
"""

import numpy as np
from Cython.Build import cythonize
from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.extension import Extension


class OptionalBuildExt(build_ext):
    """Build the extension if a compiler is there; warn instead of failing the install."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # setuptools raises several unrelated types for a missing compiler
            self.warn(f"cs231n.im2col_cython not built ({exc}); the numpy fallback will be used.")

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self.warn(f"cs231n.im2col_cython not built ({exc}); the numpy fallback will be used.")


extensions = [
    Extension(
        "cs231n.im2col_cython",
        ["cs231n/im2col_cython.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
    ),
    cmdclass={"build_ext": OptionalBuildExt},
)
