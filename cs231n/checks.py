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
- a body that checked nothing says so;
- a failed check followed by passing ones ends in a summary line naming the first thing to fix.

Cells that train a model, plot results or save a graded model run inside `running(...)`: the same
guarantees, except that a body that runs through without checking anything prints nothing more. Both
never raise, so "Run All" goes on to the next cell.

With CS231N_STRICT_CHECKS=1 in the environment (the reference runs: `make nbval`, `coursekit
run-notebooks`) both still print their line, then raise, so a broken reference notebook fails its run.
"""

import contextlib
import os
import sys

import numpy as np

from .gradient_check import rel_error
from .todos import TodoError, code_of, package_path, region_counts, todo_file, todo_name, unfinished

# The innermost active `checking` block: the check helpers tell it whether something failed.
_active = []


class StrictCheckFailed(AssertionError):
    """Raised in strict mode (CS231N_STRICT_CHECKS=1) after a failed check cell printed its line."""


def strict():
    """True when failures must raise after their line (CS231N_STRICT_CHECKS set to anything but 0)."""
    return os.environ.get("CS231N_STRICT_CHECKS", "0") not in ("", "0")


def _report(name, ok, detail, fix):
    mark = "✓" if ok else f"✗ — fix {fix or name}"
    print(f"{name}: {detail} {mark}")
    if _active:
        check = _active[-1]
        check.lines += 1
        check.last_ok = ok
        if not ok:
            check.failures += 1
            check.first_fix = check.first_fix or fix or name


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


class _Check:
    def __init__(self, name, uses, fix):
        self.name = name
        self.uses = uses
        self.fix = fix
        self.lines = 0
        self.failures = 0
        self.first_fix = None
        self.last_ok = True

    @property
    def failed(self):
        return self.failures > 0


def _frames(tb):
    """The code objects and line numbers a traceback passes through, outermost first."""
    while tb is not None:
        yield tb.tb_frame.f_code, tb.tb_lineno
        tb = tb.tb_next


def _culprit(tb, uses):
    """
    The function to blame for an exception, and its line, or (None, None): the innermost function of
    `uses` the traceback passes through, else the innermost package function with a TODO region.
    """
    codes = {code_of(fn): fn for fn in uses if code_of(fn) is not None}
    found = where = todo = todo_line = None
    for code, line in _frames(tb):
        if code in codes:
            found, where = codes[code], line
        elif package_path(code.co_filename) is not None and region_counts(code)[1]:
            todo, todo_line = code, line
    return (found, where) if found is not None else (todo, todo_line)


def _stub_in_traceback(tb):
    """The innermost package function in the traceback whose TODO still holds only `pass`, or None."""
    found = None
    for code, _ in _frames(tb):
        if package_path(code.co_filename) is not None and unfinished(code):
            found = code
    return found


def _close_figures():
    """Drop figures a failed body left half drawn, so the cell ends in its ✗ line, not an empty plot."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


def _one_line(text, limit=200):
    text = " ".join(str(text).split()) or "(no message)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _on_error(check, exc, tb):
    """Print the one line for an exception raised in the body."""
    _close_figures()
    stubs = [fn for fn in check.uses if unfinished(fn)]
    stub = stubs[0] if stubs else _stub_in_traceback(tb)
    if isinstance(exc, TodoError):
        # A TodoError from given code (the Solver) names the method to implement in its message.
        named = [fn for fn in check.uses if todo_name(fn) in str(exc)]
        if exc.fix is None and named:
            print(f"{check.name}: {_one_line(exc)} ✗ — fix {todo_name(named[0])}")
        elif stub is not None:
            what = todo_name(stub)
            print(f"{check.name}: {_one_line(exc)}; {what} is not implemented yet ✗ — fix {what}")
        else:
            print(f"{check.name}: {_one_line(exc)} ✗ — fix {exc.fix or check.fix}")
        return
    if stub is not None:
        _needs(check, stub)
        return
    fn, line = _culprit(tb, check.uses)
    message = _one_line(exc)
    if isinstance(exc, NameError) and fn is None:
        message += " (run the cells above first: one of them did not finish)"
    where = f" in {todo_name(fn)} ({todo_file(fn)}:{line})" if fn is not None else ""
    target = todo_name(fn) if fn is not None else check.fix
    print(f"{check.name}: raised {type(exc).__name__}{where}: {message} ✗ — fix {target}")


@contextlib.contextmanager
def _guard(name, uses, fix, expect_checks):
    check = _Check(name, uses, fix or name)
    _active.append(check)
    try:
        yield check
    except Exception as exc:  # noqa: BLE001 - any error of the student's code becomes one line
        _on_error(check, exc, sys.exc_info()[2])
        if strict():
            raise
    else:
        stubs = [fn for fn in uses if unfinished(fn)]
        if stubs and (check.failed or not check.lines):
            _needs(check, stubs[0])
        elif check.failed and check.last_ok:
            print(f"{name}: {check.failures} of {check.lines} checks failed ✗ — fix {check.first_fix}")
        elif expect_checks and not check.lines:
            print(f"{name}: nothing was checked ✗ — fix {check.fix}")
        elif not check.failed:
            return
        if strict():
            raise StrictCheckFailed(f"{name}: failed (CS231N_STRICT_CHECKS is set)")
    finally:
        _active.pop()


def checking(name, *uses, fix=None):
    """
    Run the body of a check cell so that it ends in one line naming the function to fix.

    Inputs:
    - name: What the cell checks, printed at the start of the line (e.g. "affine_backward")
    - uses: The student functions the body calls (functions or methods), dependencies first
    - fix: What to name when the body fails and no listed function is to blame (default: name)
    """
    return _guard(name, uses, fix, expect_checks=True)


def running(name, *uses, fix=None):
    """
    Run a cell that trains, plots or saves, so that a failure ends it in one line naming what to fix.

    Like `checking`, but a body that runs through prints nothing more; a listed function whose TODO
    still holds only `pass` is reported even then, since the cell's results mean nothing without it.

    Inputs:
    - name: What the cell does, printed at the start of the line (e.g. "three-layer overfit")
    - uses: The student functions the body relies on (functions or methods), dependencies first
    - fix: What to name when the body fails and no listed function is to blame (default: name)
    """
    return _guard(name, uses, fix, expect_checks=False)


def _needs(check, fn):
    what = todo_name(fn)
    stubbed, total = region_counts(fn)
    if stubbed < total:
        state = f"is not finished: {stubbed} of its {total} TODO regions in {todo_file(fn)} hold only `pass`"
    else:
        state = f"is not implemented yet (its TODO in {todo_file(fn)} holds only `pass`)"
    print(f"{check.name}: {what} {state} ✗ — fix {what}")
