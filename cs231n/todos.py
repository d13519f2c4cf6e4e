"""Which TODO a function is, where it lives, whether it is still a stub, and the error that names it.

The notebook checks (checks.py) and the Solver (solver.py) both name the TODO a student must write next:
`TwoLayerNet.loss` in `cs231n/classifiers/neural_net.py`, "not implemented yet" while its START/END region
holds only `pass` (regions.py reads the regions).
"""

import inspect
import os

from .regions import find_regions


class TodoError(Exception):
    """
    Raised when a TODO the code depends on is not implemented or returned the wrong kind of value.

    Inside `checking` / `running` it becomes one line: its message, then "✗ — fix <fix>".
    """

    def __init__(self, message, fix=None):
        super().__init__(message)
        self.fix = fix


def code_of(fn):
    """The code object behind a function, method or code object, or None."""
    if inspect.iscode(fn):
        return fn
    return getattr(inspect.unwrap(getattr(fn, "__func__", fn)), "__code__", None)


def todo_name(fn):
    """The name a student knows a TODO by: `affine_forward`, `FullyConnectedNet.loss`, `TwoLayerNet.__init__`."""
    if inspect.iscode(fn):
        return getattr(fn, "co_qualname", fn.co_name)
    fn = inspect.unwrap(getattr(fn, "__func__", fn))
    return getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))


def package_path(path):
    """`path` relative to the folder holding the cs231n package (cs231n/layers.py), or None outside it."""
    parts = os.path.abspath(path).split(os.sep)
    if "cs231n" not in parts[:-1]:
        return None
    return "/".join(parts[len(parts) - 1 - parts[::-1].index("cs231n"):])


def todo_file(fn):
    """The file defining `fn`, relative to the folder holding the cs231n package (cs231n/layers.py)."""
    code = code_of(fn)
    path = code.co_filename if code is not None else None
    if path is None:
        try:
            path = inspect.getsourcefile(inspect.unwrap(getattr(fn, "__func__", fn)))
        except TypeError:
            return "?"
    return package_path(path) or os.path.basename(path)


def region_counts(fn):
    """(stubbed, total): how many of fn's START/END regions hold only `pass` and comments, and how many it has."""
    try:
        target = fn if inspect.iscode(fn) else inspect.unwrap(getattr(fn, "__func__", fn))
        source = "".join(inspect.getsourcelines(target)[0])
    except (OSError, TypeError):
        return 0, 0
    regions = find_regions(source)
    lines = source.splitlines()
    return sum(r.is_stub(lines) for r in regions), len(regions)


def unfinished(fn):
    """True when one of fn's START/END OF YOUR CODE regions still holds nothing but `pass` and comments."""
    return region_counts(fn)[0] > 0
