"""Helpers the hidden check modules share (the leading underscore keeps load_checks from reading it as one).

Every check follows the same pattern: make inputs in the grader, run the submission through the Tester,
compute the expected values with the reference package (`t.ref`) here, and compare. Nothing expected ever
goes to the worker, and a failure message names the function and the case, never values.
"""

import copy
import weakref
from contextlib import contextmanager

import numpy as np
from coursekit.grading.compare import difference, grads_floor
from coursekit.grading.hidden import CheckFailed, reference_rng
from coursekit.grading.session import BadReturn, StudentError

__all__ = ["reference_rng"]


class SameAs(str):
    """A TOL entry that takes the tolerance of another TODO of the same table (its id), for a TODO whose checks
    compare the values that other TODO's measured quantity is made of; the comment beside the entry says why.
    instructor/tools/measure_tolerances.py measures the other TODO, and fails when it measured nothing there."""


def tolerances(table, prefix=""):
    """The `tol(todo, dtype)` of a check module whose TOL table maps TODO ids (grading.toml's) to their allowed
    normalised difference (float64 tolerance, float32 tolerance; None: no check of that dtype), or to SameAs.

    `todo` is a TODO id, written without `prefix` (the module's file, "cs231n/layers.py::"); `dtype` picks the
    float64 tolerance or the float32 one. A TODO without an entry is an error naming the table to add it to."""

    def tol(todo, dtype):
        entry = table.get(prefix + todo)
        if isinstance(entry, SameAs):
            entry = table.get(entry)
        if entry is None:
            raise KeyError(f"no tolerance for {prefix + todo}: add it to the TOL table of its check module "
                           "(measured by instructor/tools/measure_tolerances.py)")
        return entry[0 if dtype == np.float64 else 1]

    return tol


def normal(rng, shape, dtype=np.float64, scale=1.0, shift=0.0):
    """Gaussian data of `shape` drawn from the check's own generator (never the global one: checks run in threads)."""
    return (shift + scale * rng.standard_normal(shape)).astype(dtype)


def shape_text(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def returned(value, names, function):
    """`value` as a tuple of len(names) items; a clear failure when the function returned something else."""
    if not isinstance(value, tuple | list) or len(value) != len(names):
        if value is None:
            got = "None"
        elif isinstance(value, tuple | list):
            got = f"{len(value)} values"
        else:
            got = f"a {type(value).__name__}"
        raise CheckFailed(f"{function} returned {got}; it must return a tuple ({', '.join(names)})")
    return tuple(value)


@contextmanager
def noted(note):
    """Append `note` to the message of a failed expectation inside the block."""
    try:
        yield
    except CheckFailed as exc:
        if not note:
            raise
        raise CheckFailed(f"{exc}{note}") from None


def close(out, expected, tol):
    """True when `out` equals `expected` up to tol of its scale, as Tester.expect_close measures it."""
    expected = np.asarray(expected, dtype=np.float64)
    if not isinstance(out, np.ndarray) or out.dtype.kind not in "biuf" or out.size != expected.size:
        return False
    trimmed = out.shape[out.ndim - expected.ndim:] if out.ndim >= expected.ndim else None
    if trimmed != expected.shape or any(n != 1 for n in out.shape[: out.ndim - expected.ndim]):
        return False
    return difference(out, expected) <= tol


def judge_backward(t, forward, args, ref_out, ref_cache, judge, *, tol, accept=None):
    """Judge a backward pass on a cache that does not make another TODO's bug its own.

    `judge(cache, own_out)` calls the student's backward with the cache handle and compares its gradients with
    the expected ones, raising CheckFailed (own_out: the student's forward output when its own cache is used,
    else None). The student's own `forward` (kept as theirs with `uses=`) runs on `args` first:

    - it returns the right output (judged by `accept(out)`, by default: equal to `ref_out` up to `tol`): its
      own cache is used, whatever its layout (a tuple, a dict, an object);
    - it raises: the reference forward's cache `ref_cache` is used, and the message says so;
    - its output is wrong: its own cache first, then the reference's; the backward passes if either passes.
      When both fail, the message says that the forward is wrong and the backward could not be judged apart
      from it. So a forward bug costs the forward its points, not the backward it feeds.
    """
    short = forward.rsplit(".", 1)[-1]
    try:
        out, cache = returned(t.call(forward, *copy.deepcopy(args), returns=("data", "handle")), ("out", "cache"), short)
    except (StudentError, BadReturn, CheckFailed) as exc:
        with noted(f" [checked with the reference {short}'s cache, because your {short} failed: {_short(exc)}]"):
            judge(t.put(ref_cache), None)
        return
    good = accept(out) if accept is not None else close(out, ref_out, tol)
    if good:
        judge(cache, out)
        return
    try:
        judge(cache, out)
        return
    except (StudentError, BadReturn, CheckFailed) as exc:
        own = _short(exc)
    try:
        judge(t.put(ref_cache), None)
        return
    except (StudentError, BadReturn, CheckFailed) as exc:
        theirs = _short(exc)
    why = "returns no output (not implemented yet?)" if out is None else "returns a wrong output"
    t.fail(f"your {short} {why}, so the backward pass could not be judged apart from it: with your {short}'s "
           f"cache: {own}; with the reference {short}'s cache: {theirs}")


def _short(exc, limit=280):
    text = str(exc) if isinstance(exc, CheckFailed) else f"it {exc}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def call_unchanged(t, target, args, names, function, *, returns="data", may_change=None):
    """Call `target` with its array and dict arguments kept in the worker, then check each is as it was.

    `names` name the arguments in the messages (None: an argument the function may change, sent as it is);
    `may_change` maps an argument's name to the dict keys the docstring lets the function write (batch norm's
    running averages). Returns what the call returned."""
    sent, kept = [], []
    for name, value in zip(names, args):
        if name is not None and isinstance(value, np.ndarray | dict):
            handle = t.put(value)
            sent.append(handle)
            kept.append((name, value, handle))
        else:
            sent.append(value)
    result = t.call(target, *sent, returns=returns)
    for name, value, handle in kept:
        after = t.get(handle)
        free = set((may_change or {}).get(name, ()))
        if not _same(after, value, free):
            t.fail(f"{function} changed its argument {name}: it must leave its inputs as they were"
                   + (f" (only {', '.join(sorted(free))} may be stored into it)" if free else ""))
    return result


def same_state(after, before):
    """A bn_param dict after a call holds what it held before: the same keys, the same values (an array may come
    back with leading axes of length 1 added or dropped, its values unchanged)."""
    if not isinstance(after, dict) or set(after) != set(before):
        return False
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            other = after[key]
            if not (isinstance(other, np.ndarray) and other.size == value.size
                    and np.array_equal(other.reshape(value.shape), value, equal_nan=True)):
                return False
        elif not _same(after[key], value):
            return False
    return True


def _same(after, before, free=frozenset()):
    if isinstance(before, np.ndarray):
        return (isinstance(after, np.ndarray) and after.shape == before.shape and after.dtype == before.dtype
                and bool(np.array_equal(after, before, equal_nan=True)))
    if isinstance(before, dict):
        if not isinstance(after, dict) or set(after) - free != set(before) - free:
            return False
        return all(_same(after[k], before[k]) for k in before if k not in free)
    if isinstance(before, list | tuple):
        return (isinstance(after, list | tuple) and len(after) == len(before)
                and all(_same(a, b) for a, b in zip(after, before)))
    if isinstance(before, int | float) and not isinstance(before, bool):
        return isinstance(after, int | float) and not isinstance(after, bool) and after == before
    return type(after) is type(before) and after == before


def compare_grads(t, got, expected, names, function, case, tol, note=""):
    """Compare each returned gradient with the reference's analytic one."""
    got = returned(got, names, function) if len(names) > 1 else (got,)
    expected = expected if len(names) > 1 else (expected,)
    with noted(note):
        for name, g, e in zip(names, got, expected):
            t.expect_close(g, e, f"{function}: {name} ({case})", tol=tol)


def backward_case(t, forward, backward, args, dout, names, case, tol_forward, tol_backward):
    """The student's layers.`backward` on dout and a cache of layers.`forward` run on `args` (judged as
    judge_backward says), against the reference's gradients."""
    ref_out, ref_cache = getattr(t.ref.layers, forward)(*copy.deepcopy(args))
    expected = getattr(t.ref.layers, backward)(dout, ref_cache)

    def judge(cache, _):
        compare_grads(t, t.call(f"layers.{backward}", dout, cache), expected, names, backward, case, tol_backward)

    judge_backward(t, f"layers.{forward}", args, ref_out, ref_cache, judge, tol=tol_forward)


def unchanged_forward(t, name, args, names, tol, may_change=None, valid=None):
    """layers.`name` on `args` kept in the worker (call_unchanged): its arguments stay as they were, and its
    output is right, the reference's up to tol (or, for a random output, `valid(out)` raises no CheckFailed),
    so that an unimplemented stub, which changes nothing, does not pass."""
    result = call_unchanged(t, f"layers.{name}", args, names, name, returns=("data", "handle"), may_change=may_change)
    out, _ = returned(result, ("out", "cache"), name)
    if valid is not None:
        valid(out)
        return
    expected = getattr(t.ref.layers, name)(*copy.deepcopy(args))[0]
    t.expect_close(out, expected, f"{name}: out (its arguments kept to be compared after the call)", tol=tol)


def unchanged_backward(t, forward, backward, args, dout, names, tol_forward, tol_backward):
    """layers.`backward` leaves dout as it was and returns the reference's gradients, on a cache of
    layers.`forward` run on `args` (judged as judge_backward says)."""
    ref_out, ref_cache = getattr(t.ref.layers, forward)(*copy.deepcopy(args))
    expected = getattr(t.ref.layers, backward)(dout, ref_cache)

    def judge(cache, _):
        got = call_unchanged(t, f"layers.{backward}", (dout, cache), ("dout", "cache"), backward)
        compare_grads(t, got, expected, names, backward, "dout kept to be compared after the call", tol_backward)

    judge_backward(t, f"layers.{forward}", args, ref_out, ref_cache, judge, tol=tol_forward)


def expect_grads(t, got, expected, function, case, tol, note=""):
    """A dict of gradients with exactly the expected keys, each equal to the reference's up to tol.

    Each is measured on its own scale floored at a fraction of the model's largest gradient (compare.grads_floor:
    a gradient that vanishes analytically is rounding noise in both, not to be judged on its own scale)."""
    t.expect_keys(got, expected.keys(), f"{function}: grads ({case})")
    floor = grads_floor(expected)
    with noted(note):
        for name in sorted(expected):
            e = np.asarray(expected[name], dtype=np.float64)
            g = t.array(got[name], f"{function}: grads[{name!r}] ({case})", e.shape)
            if not np.all(np.isfinite(g)):
                t.fail(f"{function}: grads[{name!r}] ({case}) holds NaN or inf")
            err = difference(g, e, floor)
            if not err <= tol:
                t.fail(f"{function}: grads[{name!r}] ({case}) is wrong: largest difference {err:.1e} of the values' "
                       f"scale (allowed {tol:.0e})")


_INIT_ARGS = weakref.WeakKeyDictionary()


def new_reference(cls, *args, **kwargs):
    """A reference model built in the grader; its __init__ draws from the global generator, so under the lock."""
    with reference_rng:
        model = cls(*args, **kwargs)
    _INIT_ARGS[model] = (args, kwargs)
    return model


def bare_state(model):
    """The attributes of a reference model, to rebuild it in the worker with Tester.bare (no __init__ runs)."""
    return {k: copy.deepcopy(v) for k, v in vars(model).items()}


def rebuild(t, cls, model):
    """The reference model `model` (from new_reference) as an instance of the submission's class `cls`: built by
    its __init__ on the same arguments, then given the reference model's attributes. While the class's __init__
    is not under test that __init__ is the reference's, so a method is judged on the reference's state alone;
    when the student's own __init__ passes its checks and the method is checked with it (grade.py), attributes
    the student's __init__ keeps for its methods (a flag of its own) stay beside the reference's."""
    return t.bare(cls, bare_state(model), init=_INIT_ARGS.get(model))


def set_params(model, rng, weight_scale, *, bias_scale=0.1):
    """Give a reference model random weights of its own shapes and dtypes (nonzero biases, gammas off 1) from the
    check's generator `rng`: the values a check uses never depend on the global generator __init__ drew from."""
    for name, value in model.params.items():
        if name.startswith("gamma"):
            new = 1 + 0.2 * rng.standard_normal(value.shape)
        elif name.startswith(("b", "beta")):
            new = bias_scale * rng.standard_normal(value.shape)
        else:
            new = weight_scale * rng.standard_normal(value.shape)
        model.params[name] = new.astype(value.dtype)
    return model


def expect_params(t, params, expected_shapes, function, dtype=None):
    """`params` is a dict with exactly the expected names and shapes (and dtype when given)."""
    t.expect_keys(params, expected_shapes, f"{function}: self.params")
    for name, shape in expected_shapes.items():
        value = params[name]
        if not isinstance(value, np.ndarray):
            t.fail(f"{function}: self.params[{name!r}] is a {type(value).__name__}, expected a numpy array")
        if value.shape != tuple(shape):
            t.fail(f"{function}: self.params[{name!r}] has shape {value.shape}, expected {shape_text(shape)}")
        if dtype is not None and value.dtype != np.dtype(dtype):
            t.fail(f"{function}: self.params[{name!r}] has dtype {value.dtype}, expected {np.dtype(dtype)}")


def expect_gaussian(t, value, std, what, *, sigmas=6.0):
    """`value` looks drawn from N(0, std^2): its sample mean and standard deviation lie within `sigmas`
    standard errors of 0 and std (a statistical tolerance, loose for small arrays, tight for big ones)."""
    n = value.size
    mean, sd = float(np.mean(value)), float(np.std(value))
    if not abs(sd - std) <= sigmas * std / np.sqrt(2 * n):
        t.fail(f"{what} has standard deviation {sd:.3g}, expected weight_scale = {std:g} (a Gaussian of that scale)")
    if not abs(mean) <= sigmas * std / np.sqrt(n):
        t.fail(f"{what} has mean {mean:.3g}, expected a Gaussian centred at 0")


def expect_constant(t, value, constant, what):
    if not isinstance(value, np.ndarray) or not np.all(value == constant):
        t.fail(f"{what} must be all {constant:g}s")


def expect_gaussian_pooled(t, draws, std, what, *, sigmas=6.0):
    """The arrays `draws` (one weight from several constructions) look drawn from N(0, std^2) together: small
    layers get a tight test without assuming any order of draws. A construction that repeats an earlier one's
    values exactly (an __init__ that seeds np.random itself) counts once."""
    distinct = []
    for draw in draws:
        draw = np.asarray(draw, dtype=np.float64)
        if not any(draw.shape == seen.shape and np.array_equal(draw, seen) for seen in distinct):
            distinct.append(draw)
    expect_gaussian(t, np.concatenate([d.ravel() for d in distinct]), std, what, sigmas=sigmas)
