"""One-line checks for the notebooks.

Each helper prints a single line that is identical on every correct run, so nbval can compare it;
a failing check prints a different line that names what to fix, which makes nbval fail that cell.

A check cell runs its body inside `checking(...)`, which guarantees that the cell ends in a line naming
the function to fix, never in a traceback or in silence:

    with checking("affine_backward", affine_forward, affine_backward):
        ...
        check_close("affine_backward dx", dx, dx_num, fix="affine_backward")

- a function listed there whose TODO region still holds only `pass` is reported as not implemented yet;
- an exception raised in the body becomes one line naming the function it came from;
- a body that checked nothing says so.
"""

import contextlib
import inspect
import os
import sys

import numpy as np

from .gradient_check import rel_error

# Spelled out in two parts so that this file holds no marker line itself.
_MARKER = "# *****{} OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
START, END = _MARKER.format("START"), _MARKER.format("END")

# The innermost active `checking` block: the check helpers tell it whether something failed.
_active = []


class TodoError(Exception):
    """Raised when a TODO the code depends on is not implemented or returned the wrong kind of value."""


def _report(name, ok, detail, fix):
    mark = "✓" if ok else f"✗ — fix {fix or name}"
    print(f"{name}: {detail} {mark}")
    if _active:
        _active[-1].lines += 1
        _active[-1].failed |= not ok


def check_close(name, actual, expected, tol=1e-9, fix=None):
    """Check that array `actual` matches `expected` to relative error `tol`; return the error."""
    if actual is None:
        _report(name, False, "got None, expected an array (is the TODO implemented?)", fix)
        return np.inf
    try:
        actual = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        _report(name, False, f"got a {type(actual).__name__}, expected a numeric array", fix)
        return np.inf
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        _report(name, False, f"shape {actual.shape} != expected {expected.shape}", fix)
        return np.inf
    err = rel_error(actual, expected) if actual.size else 0.0
    ok = err < tol  # False for NaN, which must fail
    _report(name, ok, f"rel error < {tol:.0e}" if ok else f"rel error {err:.1e} > {tol:.0e}", fix)
    return err


def check_value(name, value, expected, tol=1e-9, fix=None):
    """Check that scalar `value` matches `expected` to relative error `tol`; return the error."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        _report(name, False, f"got {value!r}, expected the number {expected:.6g}", fix)
        return np.inf
    err = rel_error(value, expected)
    ok = err < tol
    detail = (
        f"{expected:.6g} (rel error < {tol:.0e})"
        if ok
        else f"{value:.6g} != {expected:.6g} (rel error {err:.1e})"
    )
    _report(name, ok, detail, fix)
    return err


def check_true(name, cond, msg, fix=None):
    """Check a condition described by `msg`; return it as a bool."""
    ok = bool(cond)
    _report(name, ok, msg, fix)
    return ok


def todo_name(fn):
    """The name a student knows a TODO by: `affine_forward`, `FullyConnectedNet.loss`, `TwoLayerNet.__init__`."""
    fn = inspect.unwrap(getattr(fn, "__func__", fn))
    return getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))


def todo_file(fn):
    """The file defining `fn`, relative to the folder holding the cs231n package (cs231n/layers.py)."""
    try:
        path = inspect.getsourcefile(inspect.unwrap(getattr(fn, "__func__", fn)))
    except TypeError:
        return "?"
    parts = os.path.abspath(path).split(os.sep)
    if "cs231n" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("cs231n"):])
    return os.path.basename(path)


def unfinished(fn):
    """True when one of fn's START/END OF YOUR CODE regions still holds nothing but `pass` and comments."""
    try:
        lines, _ = inspect.getsourcelines(inspect.unwrap(getattr(fn, "__func__", fn)))
    except (OSError, TypeError):
        return False
    body = None
    for line in lines:
        text = line.strip()
        if text == START:
            body = []
        elif text == END and body is not None:
            if all(b in ("", "pass") or b.startswith("#") for b in body):
                return True
            body = None
        elif body is not None:
            body.append(text)
    return False


class _Check:
    def __init__(self, name, uses, fix):
        self.name = name
        self.uses = uses
        self.fix = fix
        self.lines = 0
        self.failed = False


def _culprit(tb, uses):
    """The innermost function of `uses` that the traceback passes through, or None."""
    codes = {}
    for fn in uses:
        code = getattr(inspect.unwrap(getattr(fn, "__func__", fn)), "__code__", None)
        if code is not None:
            codes[code] = fn
    found, where = None, None
    while tb is not None:
        if tb.tb_frame.f_code in codes:
            found = codes[tb.tb_frame.f_code]
            where = tb.tb_lineno
        tb = tb.tb_next
    return found, where


@contextlib.contextmanager
def checking(name, *uses, fix=None):
    """
    Run the body of a check cell so that it ends in one line naming the function to fix.

    Inputs:
    - name: What the cell checks, printed at the start of the line (e.g. "affine_backward")
    - uses: The student functions the body calls (functions or methods), dependencies first
    - fix: What to name when the body fails and no listed function is to blame (default: name)
    """
    check = _Check(name, uses, fix or name)
    _active.append(check)
    try:
        yield check
    except Exception as exc:  # noqa: BLE001 - any error of the student's code becomes one line
        stubs = [fn for fn in uses if unfinished(fn)]
        if stubs:
            _needs(check, stubs[0])
        else:
            fn, line = _culprit(sys.exc_info()[2], uses)
            message = " ".join(str(exc).split()) or "(no message)"
            if len(message) > 200:
                message = message[:197] + "..."
            where = f" in {todo_name(fn)} ({todo_file(fn)}:{line})" if fn is not None else ""
            target = todo_name(fn) if fn is not None else check.fix
            print(f"{name}: raised {type(exc).__name__}{where}: {message} ✗ — fix {target}")
    else:
        stubs = [fn for fn in uses if unfinished(fn)]
        if stubs and (check.failed or not check.lines):
            _needs(check, stubs[0])
        elif not check.lines:
            print(f"{name}: nothing was checked ✗ — fix {check.fix}")
    finally:
        _active.pop()


def _needs(check, fn):
    what = todo_name(fn)
    print(f"{check.name}: {what} is not implemented yet (its TODO in {todo_file(fn)} holds only `pass`) ✗ — fix {what}")
