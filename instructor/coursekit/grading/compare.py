"""How a hidden check compares a submission's numbers with the reference's, and the tolerances per TODO.

One measure, here only: the hidden checks' expectations (hidden.Tester.expect_close and expect_value,
hidden_tests/_support.close and expect_grads) and instructor/tools/measure_tolerances.py, which sets the
tolerances from it, all import it, so the tool measures exactly what the checks compare.

    difference = max|got - expected| / max(max|expected|, floor, 1e-12)

`floor` is 0 except for a model's gradients (grads_floor): each gradient is measured on its own scale floored
at a fraction of the model's largest gradient, 1e-3 for a float64 model and 0.1 for a float32 one (whose
rounding is 1e9 times coarser), so a gradient that vanishes analytically (a bias in front of batch norm) is
rounding noise in both and is not judged on its own scale of 1e-17.
"""

import math

import numpy as np

# The scale below which `expected` counts as zero: a difference is then measured against this.
TINY = 1e-12
# A model's gradients: the fraction of its largest gradient each one's scale is floored at, per dtype.
GRAD_FLOOR = {np.dtype(np.float64): 1e-3, np.dtype(np.float32): 0.1}


def difference(got, expected, floor=0.0):
    """The checks' measure of `got` against `expected` (inf when got has another size or holds NaN or inf)."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.size != expected.size:
        return math.inf
    got = got.reshape(expected.shape)
    if not np.all(np.isfinite(got)):
        return math.inf
    scale = max(float(np.max(np.abs(expected))) if expected.size else 0.0, floor, TINY)
    return float(np.max(np.abs(got - expected), initial=0.0)) / scale


def grads_floor(expected):
    """The scale floor of the gradients in the dict `expected` (float32 rounding when any of them is float32)."""
    top = max((float(np.max(np.abs(e))) for e in expected.values() if np.size(e)), default=0.0)
    float32 = any(np.asarray(e).dtype == np.float32 for e in expected.values())
    return GRAD_FLOOR[np.dtype(np.float32 if float32 else np.float64)] * top
