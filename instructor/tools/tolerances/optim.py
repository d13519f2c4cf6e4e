"""Measures of the TODOs hidden_tests/optim.py checks: SGD with momentum, RMSProp, Adam."""

import copy

import numpy as np

from cs231n import optim as O

from ._common import F32, F64, case_rng, diff, f64, rng_normal

# -- optimisers --------------------------------------------------------------------------------------------------


def _linspace_w_dw():
    return np.linspace(-0.4, 0.6, num=20).reshape(4, 5), np.linspace(-0.6, 0.4, num=20).reshape(4, 5)


# The configurations of instructor/hidden_tests/optim.py: (config, steps, dtype); None is config=None.
OPTIM_CONFIGS = {
    "sgd_momentum": [({"learning_rate": 1e-3, "velocity": np.linspace(0.6, 0.9, num=20).reshape(4, 5)}, 1, F64),
                     ({"learning_rate": 0.1, "momentum": 0.8}, 5, F64), (None, 1, F64),
                     ({"learning_rate": 0.05}, 3, F32)],
    "rmsprop": [({"learning_rate": 1e-2, "cache": np.linspace(0.6, 0.9, num=20).reshape(4, 5)}, 1, F64),
                ({"learning_rate": 0.01, "decay_rate": 0.9}, 5, F64), (None, 1, F64), ({"learning_rate": 0.02}, 3, F32)],
    "adam": [({"learning_rate": 1e-2, "m": np.linspace(0.6, 0.9, num=20).reshape(4, 5),
               "v": np.linspace(0.7, 0.5, num=20).reshape(4, 5), "t": 5}, 1, F64),
             ({"learning_rate": 1e-2}, 5, F64), ({"learning_rate": 1e-3, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6}, 5, F64),
             (None, 1, F64), ({"learning_rate": 1e-2}, 3, F32)],
}


def optim_gradient(rng, shape, dtype):
    """As the checks' optim.gradient: entries with |dw| >= 0.5 (see there why)."""
    return (rng.choice([-1.0, 1.0], size=shape) * (0.5 + np.abs(rng.standard_normal(shape)))).astype(dtype)


def optim_runs(name, variants, seed=12):
    """Rows of each variant against the reference over the checks' configurations, each step fed the config
    the last one returned."""
    rule = getattr(O, name)
    rows = []
    for variant in variants:
        for config0, steps, dtype in OPTIM_CONFIGS[name]:
            rng = case_rng(seed)
            w, dw = _linspace_w_dw() if steps == 1 else (rng_normal(rng, (3, 4), dtype), None)
            w_ref, w_var = w.copy(), w.copy()
            c_ref, c_var = copy.deepcopy(config0) or {}, copy.deepcopy(config0) or {}
            worst = 0.0
            for _ in range(steps):
                step_dw = dw if dw is not None else optim_gradient(rng, (3, 4), dtype)
                w_ref, c_ref = rule(w_ref, step_dw, c_ref)
                w_var, c_var = variant(w_var, step_dw, c_var)
                worst = max(worst, diff(w_var, w_ref))
            rows.append((variant.__name__, dtype, worst))
    return rows


def momentum_ok(w, dw, config):
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = -config["learning_rate"] * dw + config["momentum"] * config.get("velocity", np.zeros_like(w))
    config["velocity"] = v
    return v + w, config


def momentum_nesterov(w, dw, config):
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v_prev = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v_prev - config["learning_rate"] * dw
    config["velocity"] = v
    return w - config["momentum"] * v_prev + (1 + config["momentum"]) * v, config


def momentum_plain_sgd(w, dw, config):
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def rmsprop_ok(w, dw, config):
    for k, v in (("learning_rate", 1e-2), ("decay_rate", 0.99), ("epsilon", 1e-8)):
        config.setdefault(k, v)
    cache = (1 - config["decay_rate"]) * (dw * dw) + config["decay_rate"] * config.get("cache", np.zeros_like(w))
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def rmsprop_no_sqrt(w, dw, config):
    for k, v in (("learning_rate", 1e-2), ("decay_rate", 0.99), ("epsilon", 1e-8)):
        config.setdefault(k, v)
    cache = config["decay_rate"] * config.get("cache", np.zeros_like(w)) + (1 - config["decay_rate"]) * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (cache + config["epsilon"]), config


def rmsprop_swapped_decay(w, dw, config):
    for k, v in (("learning_rate", 1e-2), ("decay_rate", 0.99), ("epsilon", 1e-8)):
        config.setdefault(k, v)
    cache = (1 - config["decay_rate"]) * config.get("cache", np.zeros_like(w)) + config["decay_rate"] * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def _adam_defaults(w, config):
    for k, v in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8)):
        config.setdefault(k, v)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)


def adam_folded(w, dw, config):
    """The paper's efficient form: the bias corrections folded into the step size (epsilon then acts on
    sqrt(v) rather than sqrt(v_hat), a relative change of the step of about epsilon / sqrt(v))."""
    _adam_defaults(w, config)
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw * dw
    step = config["learning_rate"] * np.sqrt(1 - b2**t) / (1 - b1**t)
    return w - step * config["m"] / (np.sqrt(config["v"]) + config["epsilon"]), config


def adam_written_out(w, dw, config):
    _adam_defaults(w, config)
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] = t = config["t"] + 1
    config["m"] = (1 - b1) * dw + b1 * config["m"]
    config["v"] = (1 - b2) * dw**2 + b2 * config["v"]
    mt, vt = config["m"] / (1 - b1**t), config["v"] / (1 - b2**t)
    return w + -config["learning_rate"] * mt / (vt**0.5 + config["epsilon"]), config


def adam_no_correction(w, dw, config):
    _adam_defaults(w, config)
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] += 1
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw * dw
    return w - config["learning_rate"] * config["m"] / (np.sqrt(config["v"]) + config["epsilon"]), config


def adam_t_after(w, dw, config):
    _adam_defaults(w, config)
    b1, b2 = config["beta1"], config["beta2"]
    t = config["t"] if config["t"] else 1
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw * dw
    out = w - config["learning_rate"] * (config["m"] / (1 - b1 ** (t + 1))) / (
        np.sqrt(config["v"] / (1 - b2**t)) + config["epsilon"])
    config["t"] += 1
    return out, config


def measure_optim():
    out = {}
    for name, ok, bug in (("sgd_momentum", [momentum_ok, f64(momentum_ok)], [momentum_nesterov, momentum_plain_sgd]),
                          ("rmsprop", [rmsprop_ok, f64(rmsprop_ok)], [rmsprop_no_sqrt, rmsprop_swapped_decay]),
                          ("adam", [adam_folded, adam_written_out, f64(adam_written_out)],
                           [adam_no_correction, adam_t_after])):
        out[f"cs231n/optim.py::{name}"] = (optim_runs(name, ok), optim_runs(name, bug))
    return out
