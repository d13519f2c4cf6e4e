"""What every measure shares: the case generators under the current salt, the checks' measure, honest
float32 variants through float64, and the rows a measure returns."""

import copy

import numpy as np
from coursekit.grading.compare import difference, grads_floor

F32, F64 = np.float32, np.float64
# The measures return their rows keyed by TODO id (grading.toml's), as the checks' TOL tables are.
LAYERS = "cs231n/layers.py::"


# The salt the random cases of the current pass are drawn from (main sets it); case_rng(n) is the generator
# of case family n under it, as Tester.rng(n) is a check's under a grading's salt.
SALT = [0]


def case_rng(n):
    return np.random.default_rng([SALT[0], n])


def diff(got, expected):
    """The checks' measure (compare.difference): inf for a shape mismatch or NaN."""
    return difference(got, expected)


def diff_all(got, expected):
    """Largest diff over the outputs of a function (tuples, dicts of gradients as _support.expect_grads measures
    them, scalars)."""
    if isinstance(expected, dict):
        floor = grads_floor(expected)
        return max(difference(got[k], v, floor) for k, v in expected.items())
    if isinstance(expected, tuple | list):
        return max(diff_all(g, e) for g, e in zip(got, expected))
    return difference(got, expected)


def f64(fn):
    """An honest float32 variant: compute in float64, hand back the input's dtype."""

    def run(*args):
        dtype = next((a.dtype for a in args if isinstance(a, np.ndarray) and a.dtype.kind == "f"), F64)
        return _cast(fn(*_up(args)), dtype)

    run.__name__ = f"{fn.__name__} via float64"
    return run


def _up(value):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(F64)
    if isinstance(value, tuple | list):
        return type(value)(_up(v) for v in value)
    return value


def _cast(out, dtype):
    if isinstance(out, np.ndarray):
        return out.astype(dtype)
    if isinstance(out, tuple | list):
        return type(out)(_cast(o, dtype) for o in out)
    return out


def rng_normal(rng, shape, dtype=F64, scale=1.0, shift=0.0):
    return (shift + scale * rng.standard_normal(shape)).astype(dtype)


def backward_rows(forward, variants, cases):
    """Rows (variant, dtype, diff) of backward variants on the reference forward's cache."""
    rng = case_rng(7)
    rows = []
    for case in cases:
        out, cache = forward(*copy.deepcopy(case))
        dout = rng_normal(rng, np.shape(out), np.asarray(out).dtype)
        expected = variants[0](dout, cache)
        for variant in variants[1:]:
            rows.append((variant.__name__, np.asarray(out).dtype, diff_all(variant(dout, copy.deepcopy(cache)), expected)))
    return rows


def forward_rows(reference, variants, cases, take=lambda r: r[0]):
    rows = []
    for case in cases:
        expected = take(reference(*copy.deepcopy(case)))
        dtype = next(a.dtype for a in case if isinstance(a, np.ndarray))
        for variant in variants:
            got = variant(*copy.deepcopy(case))
            rows.append((variant.__name__, dtype, diff_all(got[0] if isinstance(got, tuple) else got, expected)))
    return rows


def value_rows(reference, variants, cases):
    rows = []
    for case in cases:
        expected = reference(*copy.deepcopy(case))
        dtype = case[0].dtype
        for variant in variants:
            rows.append((variant.__name__, dtype, diff_all(variant(*copy.deepcopy(case)), expected)))
    return rows


def model_rows(reference, variants, cases):
    rows = []
    for model, X, y, kwargs in cases:
        expected = reference(copy.deepcopy(model), X, y, **kwargs)
        dtype = model.params["W1"].dtype
        for variant in variants:
            got = variant(copy.deepcopy(model), X, y, **kwargs)
            if got is not None:  # None: the bug does not apply to this case (no dropout, no penalty)
                rows.append((variant.__name__, dtype, diff_all(got, expected)))
    return rows


def randomise(model, rng, scale):
    for k, v in model.params.items():
        s = 0.1 if k.startswith("b") else (0.2 if k.startswith("gamma") else scale)
        base = 1.0 if k.startswith("gamma") else 0.0
        model.params[k] = (base + s * rng.standard_normal(v.shape)).astype(v.dtype)
    return model
