"""One-line checks for the notebooks.

Each helper prints a single line that is identical on every correct run, so nbval can compare it;
a failing check prints a different line that names what to fix, which makes nbval fail that cell.
"""

import numpy as np

from .gradient_check import rel_error


def _report(name, ok, detail, fix):
    mark = "✓" if ok else f"✗ — fix {fix or name}"
    print(f"{name}: {detail} {mark}")


def check_close(name, actual, expected, tol=1e-9, fix=None):
    """Check that array `actual` matches `expected` to relative error `tol`; return the error."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
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
