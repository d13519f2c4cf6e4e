"""Hidden checks: grader-side tests of one TODO each. They run in the grader, never in the worker.

A check is a function decorated with `@check(todo_id)` in a file under the hidden-checks folder
(grading.toml [course] hidden_tests). It gets a `Tester`, calls the submission through it (the worker
runs the student's code for that TODO and the reference for every other TODO), computes the expected
values itself with the reference package (`t.ref`), and compares with the `expect_*` helpers:

    @check("cs231n/layers.py::affine_forward")
    def affine_forward_random_shapes(t):
        x, w, b = ...
        out, _ = t.call("layers.affine_forward", x, w, b, returns=("data", "handle"))
        t.expect_close(out, t.ref.layers.affine_forward(x, w, b)[0], "affine_forward: out")

`uses=[todo ids]` keeps those TODOs as the student's code too (a backward check needs the student's own
forward to build the cache it reads). A failed expectation raises CheckFailed with a message naming the
function and what was wrong; it never shows hidden inputs, expected values or this file's source.

The contract is the student-facing one: checks test what the docstrings and public tests say, on more
cases, never stricter in form. Values that differ from the documented shape only by leading axes of
length 1 (a (1, D) running mean for a documented (D,)) pass.

Random inputs come from `t.rng(n)`, never from a fixed seed: a generator seeded from the grading's salt (an
HMAC of the graded code under the grader's secret, secret.py), the check's name and n. A submission cannot
predict them, and a regrade of the same code draws the same ones. Only the course's own public check inputs
(its linspace arrays and RandomState(231) draws) stay fixed. Tolerances must therefore hold for every draw
(instructor/tools/measure_tolerances.py measures them over random salts).
"""

import hashlib
import importlib
import importlib.util
import math
import secrets
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .compare import difference
from .protocol import Handle, Op

# The grader runs the checks of several TODOs at once in threads, and the reference draws from numpy's one
# global generator (dropout_forward seeds it and draws its mask; the models' __init__ draw their weights).
# Reference code that draws in a check runs under this lock (`with reference_rng:`), so a seeded draw cannot
# be disturbed by another thread's between its seed and its draw. (Callbacks run the reference in a process
# of their own: reference_server.py.)
reference_rng = threading.RLock()


class CheckFailed(AssertionError):
    """A hidden check found a wrong result; the message is shown to the student."""


@dataclass(frozen=True)
class CheckSpec:
    todo: str
    name: str
    func: object
    uses: tuple = ()
    timeout: float | None = None
    public: bool = False


# A check on the course's own public inputs (the notebook's and public tests' values) reveals nothing a student
# does not have: its details follow [visibility] public_checks. The course names those checks *_course_values,
# *_course_case(s); `public=` says so explicitly.
PUBLIC_NAME_PARTS = ("_course_value", "_course_case")


def check(todo, *, uses=(), timeout=None, public=None):
    """Mark a function as a hidden check of `todo` (a grading.toml TODO id); `public`: see PUBLIC_NAME_PARTS."""

    def decorate(func):
        is_public = any(part in func.__name__ for part in PUBLIC_NAME_PARTS) if public is None else bool(public)
        func.coursekit_check = CheckSpec(todo, func.__name__, func, tuple(uses), timeout, is_public)
        return func

    return decorate


def load_checks(folder):
    """Every @check function of the .py files in `folder`, in file and definition order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"hidden checks folder {folder} is missing; check [course] hidden_tests in grading.toml")
    # Helper modules (a leading underscore: `_support.py`) are loaded first under their own names, so the
    # check modules beside them can `import _support`.
    for path in sorted(folder.glob("_*.py")):
        if path.name != "__init__.py":
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            spec.loader.exec_module(module)
    specs = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = f"_coursekit_hidden_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        for value in vars(module).values():
            found = getattr(value, "coursekit_check", None)
            if isinstance(found, CheckSpec) and found.func is value:
                specs.append(found)
    return specs


class _Namespace:
    """Attribute access to the submodules of a package: ns.classifiers.fc_net."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        full = f"{self._name}.{attr}"
        module = sys.modules.get(self._name) or importlib.import_module(self._name)
        if hasattr(module, attr):
            return getattr(module, attr)
        try:
            importlib.import_module(full)
        except ModuleNotFoundError:
            raise AttributeError(f"{self._name} has no {attr}") from None
        return _Namespace(full)

    def __repr__(self):
        return f"<reference {self._name}>"


def _leading_ones_removed(shape, ndim):
    extra = len(shape) - ndim
    if extra < 0 or any(n != 1 for n in shape[:extra]):
        return None
    return tuple(shape[extra:])


class Tester:
    """What a hidden check works with: the submission through a worker, the reference, expectations."""

    def __init__(self, worker, *, package, reference_name, modules, timeout, todos=(), salt=None, check=""):
        self._worker = worker
        # No salt (a Tester made outside a grading): fresh inputs every time, never predictable ones.
        self._salt = bytes(salt) if salt is not None else secrets.token_bytes(32)
        self._check = str(check)
        self._package = package
        self._modules = set(modules)
        self._timeout = timeout
        self._todos = tuple(todos)  # (todo id, module, qualified name) of the code TODOs
        self.ref = _Namespace(reference_name)

    def _digest(self, kind, n):
        return hashlib.sha256(b"\0".join((self._salt, self._check.encode("utf-8"), kind, str(int(n)).encode()))).digest()

    def rng(self, n=0):
        """The check's random generator number `n`: seeded from the grading's salt, the check's name and n."""
        return np.random.default_rng(int.from_bytes(self._digest(b"rng", n)[:16], "little"))

    def seed_value(self, n=0):
        """Seed number `n` for the worker's np.random or a dropout_param (below 2**31), derived like rng(n)."""
        return int.from_bytes(self._digest(b"seed", n)[:4], "little") & 0x7FFFFFFF

    # -- reaching the submission --------------------------------------------------------------

    def _target(self, path):
        """'layers.affine_forward' -> 'cs231n.layers:affine_forward' (longest module prefix wins)."""
        parts = path.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:cut])
            if module in self._modules:
                return f"{self._package}.{module}:{'.'.join(parts[cut:])}"
        raise ValueError(f"hidden check names {path!r}, which is in no module of the package")

    def _direct(self, op, value):
        """The TODOs a request targets itself: the function called, the class built (its __init__), the method."""
        if op is Op.CALL and isinstance(value.get("target"), str):
            module, _, name = value["target"].partition(":")
            return {i for i, m, q in self._todos if m == module and q in (name, f"{name}.__init__")}
        if op is Op.METHOD:
            return {i for i, _, q in self._todos if q.rsplit(".", 1)[-1] == value["name"]}
        if op is Op.BARE and value.get("init") is not None:
            module, _, name = value["cls"].partition(":")
            return {i for i, m, q in self._todos if m == module and q == f"{name}.__init__"}
        return set()

    def _request(self, op, value, returns="data"):
        if isinstance(returns, tuple):
            returns = list(returns)
        return self._worker.request(op, value, returns=returns, timeout=self._timeout, direct=self._direct(op, value))

    def call(self, target, *args, returns="data", **kwargs):
        """Call the submission's function `target` ('layers.affine_forward') or a handle to a callable."""
        target = target if isinstance(target, Handle) else self._target(target)
        return self._request(Op.CALL, {"target": target, "args": list(args), "kwargs": kwargs}, returns)

    def method(self, obj, name, *args, returns="data", **kwargs):
        """Call method `name` of the worker object `obj` (a handle)."""
        return self._request(Op.METHOD, {"obj": obj, "name": name, "args": list(args), "kwargs": kwargs}, returns)

    def new(self, cls, *args, **kwargs):
        """Construct the submission's class `cls` ('classifiers.fc_net.FullyConnectedNet'); a handle."""
        return self.call(cls, *args, returns="handle", **kwargs)

    def bare(self, cls, state, init=None):
        """An instance of the submission's class `cls` with attributes `state`: made without __init__, or, with
        `init` = (args, kwargs), by __init__ first (the reference's while its __init__ is not under test; the
        student's own, keeping attributes of its own beside `state`, when it is)."""
        init = None if init is None else [list(init[0]), dict(init[1])]
        return self._request(Op.BARE, {"cls": self._target(cls), "state": state, "init": init}, "handle")

    def getattr(self, obj, name, returns="data"):
        return self._request(Op.GETATTR, {"obj": obj, "name": name}, returns)

    def setattr(self, obj, name, value):
        self._request(Op.SETATTR, {"obj": obj, "name": name, "value": value})

    def put(self, value):
        """Send plain data to the worker and keep it there; returns its handle (for dicts a call mutates)."""
        return self._request(Op.PUT, {"value": value}, "handle")

    def get(self, handle):
        return self._request(Op.GET, {"obj": handle})

    def seed(self, seed):
        """Seed np.random and random in the worker (for TODOs that draw random numbers)."""
        self._request(Op.SEED, {"seed": int(seed)})

    # -- expectations ---------------------------------------------------------------------------

    @staticmethod
    def fail(what):
        raise CheckFailed(what)

    def expect(self, condition, what):
        if not condition:
            raise CheckFailed(what)

    def array(self, got, what, shape):
        """`got` as a float64 array of documented shape `shape` (leading axes of length 1 are dropped)."""
        if got is None:
            raise CheckFailed(f"{what} is None: the TODO is not implemented (or does not assign its result)")
        if isinstance(got, bool | int | float):
            got = np.asarray(got)
        if not isinstance(got, np.ndarray):
            raise CheckFailed(f"{what} is a {type(got).__name__}, expected a numpy array of shape {tuple(shape)}")
        if got.dtype.kind not in "biuf":
            raise CheckFailed(f"{what} has dtype {got.dtype}, expected numbers")
        shape = tuple(shape)
        trimmed = _leading_ones_removed(got.shape, len(shape))
        if trimmed != shape:
            raise CheckFailed(f"{what} has shape {got.shape}, expected {shape}")
        return got.astype(np.float64).reshape(shape)

    def expect_close(self, got, expected, what, tol=1e-8):
        """Pass when compare.difference(got, expected) <= tol: max |got - expected| <= tol * max(max |expected|, 1e-12)."""
        expected = np.asarray(expected, dtype=np.float64)
        got = self.array(got, what, expected.shape)
        if not np.all(np.isfinite(got)):
            raise CheckFailed(f"{what} holds NaN or inf")
        err = difference(got, expected)
        if not err <= tol:
            raise CheckFailed(f"{what} is wrong: largest difference {err:.1e} of the values' scale (allowed {tol:.0e})")
        return err

    def expect_value(self, got, expected, what, tol=1e-8):
        """A scalar: a Python number or an array of one element."""
        if isinstance(got, np.ndarray) and got.size == 1 and got.dtype.kind in "biuf":
            got = float(got.reshape(()))
        if got is None:
            raise CheckFailed(f"{what} is None: the TODO is not implemented (or does not assign its result)")
        if not isinstance(got, int | float) or isinstance(got, bool):
            raise CheckFailed(f"{what} is a {type(got).__name__}, expected a number")
        if not math.isfinite(got):
            raise CheckFailed(f"{what} is {got}")
        err = difference(got, expected)
        if not err <= tol:
            raise CheckFailed(f"{what} is wrong: relative difference {err:.1e} (allowed {tol:.0e})")
        return err

    def expect_keys(self, got, keys, what):
        if not isinstance(got, dict):
            raise CheckFailed(f"{what} is a {type(got).__name__}, expected a dict")
        missing = sorted(set(keys) - set(got))
        extra = sorted(set(got) - set(keys))
        if missing or extra:
            raise CheckFailed(f"{what}: missing keys {missing}, unexpected keys {extra}")
