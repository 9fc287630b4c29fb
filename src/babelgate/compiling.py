"""What the compiled build (buildtools/babelgate_build.py: the request path through mypyc) needs said in the
source, without mypy at run time.

`mypyc_attr` is mypy_extensions' decorator as mypy and mypyc read it; at run time, where mypy_extensions is
not installed (it comes with mypy, a build and development tool), it is a decorator that changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr
else:

    def mypyc_attr(*_flags: Any, **_attrs: Any) -> Any:
        return lambda cls: cls


__all__ = ["mypyc_attr"]
