"""Hidden checks of cs231n/optim.py: the course's one-step values, several steps the way Solver runs them
(the config a rule returns goes into its next call), the documented defaults, float32 weights, and dw left as
it was. The module docstring lets a rule update w and its config's arrays in place (next_w may be w), so
those are only read from what the rule returns. Random weights and gradients are drawn per grading (t.rng)."""

import copy

import _support as S
import numpy as np
from coursekit.grading.hidden import check

# Allowed normalised difference (float64, float32), from instructor/tools/measure_tolerances.py over these
# checks' configurations (honest variants: terms in either order, dw**2 or dw * dw, float32 kept or promoted,
# and for Adam the paper's efficient form, the bias corrections folded into the step size, where epsilon
# meets sqrt(v) rather than sqrt(v_hat); bugs: Nesterov for plain momentum, a decay on the wrong term, no
# square root, no bias correction, t updated after use). Figures of a run over 30 salts on 2026-12-05:
# largest honest difference float64 / float32; smallest float64 bug (the bug).
TOL = {
    "cs231n/optim.py::sgd_momentum": (1e-10, 1e-5),  # 0 / 1e-7; 1e-1 (Nesterov)
    "cs231n/optim.py::rmsprop": (1e-10, 1e-5),  # 0 / 1e-7; 2e-1 (decay on the gradient term)
    "cs231n/optim.py::adam": (1e-5, 1e-5),  # 3e-8 / 7e-8 (the folded form); 3e-3 (t updated after use)
}
tol = S.tolerances(TOL, prefix="cs231n/optim.py::")

STATE = {"sgd_momentum": ("velocity",), "rmsprop": ("cache",), "adam": ("m", "v", "t")}


def _w_dw():
    N, D = 4, 5
    return np.linspace(-0.4, 0.6, num=N * D).reshape(N, D), np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)


def _step(t, name, w, dw, config, case):
    """One call of the student's rule; (next_w, config) after checking both against the reference's."""
    got = S.returned(t.call(f"optim.{name}", w, dw, config), ("next_w", "config"), name)
    e_w, e_config = getattr(t.ref.optim, name)(w, dw, copy.deepcopy(config))
    tolerance = tol(name, w.dtype)
    t.expect_close(got[0], e_w, f"{name}: next_w ({case})", tol=tolerance)
    config = got[1]
    if not isinstance(config, dict):
        t.fail(f"{name}: the returned config is a {type(config).__name__}, expected the config dict ({case})")
    for key in STATE[name]:
        if key not in config:
            t.fail(f"{name}: the returned config has no {key!r} ({case}); the next step needs it")
        if key == "t":
            t.expect_value(config[key], e_config[key], f"{name}: config['t'] ({case})", tol=0)
        else:
            t.expect_close(config[key], e_config[key], f"{name}: config[{key!r}] ({case})", tol=tolerance)
    return got[0], config


def _course_step(t, name, config):
    w, dw = _w_dw()
    _step(t, name, w, dw, config, "the course's check inputs")


def gradient(rng, shape, dtype):
    """A random gradient whose entries keep |dw| >= 0.5. Adam's efficient form adds epsilon to sqrt(v) where
    the written-out one adds it to sqrt(v_hat): the two steps differ by a relative epsilon / sqrt(v), which
    a gradient entry near zero would blow up to any size; bounded away from zero they agree to 1e-6."""
    return (rng.choice([-1.0, 1.0], size=shape) * (0.5 + np.abs(rng.standard_normal(shape)))).astype(dtype)


def _several_steps(t, name, config, dtype=np.float64, steps=5, n=0):
    rng = t.rng(n)
    w = S.normal(rng, (3, 4), dtype)
    for step in range(1, steps + 1):
        dw = gradient(rng, (3, 4), dtype)
        w, config = _step(t, name, w, dw, config, f"step {step} of {steps}, each given the config the last returned"
                          + (", float32" if dtype == np.float32 else ""))


def _defaults(t, name):
    w, dw = _w_dw()
    _step(t, name, w, dw, None, "config=None: the documented defaults")


@check("cs231n/optim.py::sgd_momentum")
def sgd_momentum_course_values(t):
    N, D = 4, 5
    v = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    _course_step(t, "sgd_momentum", {"learning_rate": 1e-3, "velocity": v})


@check("cs231n/optim.py::sgd_momentum")
def sgd_momentum_several_steps(t):
    _several_steps(t, "sgd_momentum", {"learning_rate": 0.1, "momentum": 0.8}, n=0)
    _defaults(t, "sgd_momentum")
    _several_steps(t, "sgd_momentum", {"learning_rate": 0.05}, np.float32, steps=3, n=1)


@check("cs231n/optim.py::rmsprop")
def rmsprop_course_values(t):
    N, D = 4, 5
    cache = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    _course_step(t, "rmsprop", {"learning_rate": 1e-2, "cache": cache})


@check("cs231n/optim.py::rmsprop")
def rmsprop_several_steps(t):
    _several_steps(t, "rmsprop", {"learning_rate": 0.01, "decay_rate": 0.9}, n=0)
    _defaults(t, "rmsprop")
    _several_steps(t, "rmsprop", {"learning_rate": 0.02}, np.float32, steps=3, n=1)


@check("cs231n/optim.py::adam")
def adam_course_values(t):
    N, D = 4, 5
    m = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    _course_step(t, "adam", {"learning_rate": 1e-2, "m": m, "v": v, "t": 5})


@check("cs231n/optim.py::adam")
def adam_several_steps(t):
    _several_steps(t, "adam", {"learning_rate": 1e-2}, n=0)
    _several_steps(t, "adam", {"learning_rate": 1e-3, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6}, n=1)


@check("cs231n/optim.py::adam")
def adam_defaults_and_float32(t):
    _defaults(t, "adam")
    _several_steps(t, "adam", {"learning_rate": 1e-2}, np.float32, steps=3, n=2)


def _dw_unchanged(t, name):
    """Two steps each, the second from the config the first returned: a first step from a fresh config is
    plain SGD for momentum, so one step alone would also pass `sgd` handed in its place."""
    rng = t.rng()
    for config in ({"learning_rate": 1e-2}, None):
        w, e_config = S.normal(rng, (3, 4)), copy.deepcopy(config)
        for step in (1, 2):
            dw = gradient(rng, (3, 4), np.float64)
            got = S.returned(S.call_unchanged(t, f"optim.{name}", (w, dw, config), (None, "dw", None), name),
                             ("next_w", "config"), name)
            e_w, e_config = getattr(t.ref.optim, name)(w, dw, e_config)
            t.expect_close(got[0], e_w, f"{name}: next_w of step {step} (dw kept to be compared after the call)",
                           tol=tol(name, np.float64))
            w, config = e_w, got[1]


@check("cs231n/optim.py::sgd_momentum")
def sgd_momentum_leaves_dw_unchanged(t):
    _dw_unchanged(t, "sgd_momentum")


@check("cs231n/optim.py::rmsprop")
def rmsprop_leaves_dw_unchanged(t):
    _dw_unchanged(t, "rmsprop")


@check("cs231n/optim.py::adam")
def adam_leaves_dw_unchanged(t):
    _dw_unchanged(t, "adam")
