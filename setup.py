"""setuptools' script, for the extensions only (the rest is pyproject.toml): the compiled hot path when
BABELGATE_COMPILE=1, none otherwise (buildtools/babelgate_build.py)."""

from babelgate_build import cmdclass, ext_modules  # buildtools/, on the path as pyproject.toml's backend-path
from setuptools import setup

setup(ext_modules=ext_modules(), cmdclass=cmdclass())
