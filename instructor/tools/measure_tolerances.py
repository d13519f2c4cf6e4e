"""Measure how far honest implementations and typical bugs land from the reference, per code TODO.

The hidden checks compare a submission's values with the reference's (gradients with its analytic ones)
by the normalised difference max|got - expected| / max|expected| (coursekit/grading/compare.py, imported here too).
Their tolerances (the TOL tables of instructor/hidden_tests/*.py, keyed by TODO id) must sit far above what correct code differs by (summation order, float32
rounding) and far below what wrong code differs by. This script measures both:

- honest variants of every function: other summation orders (loops, einsum, reversed axes), other
  algebraically equal formulas (E[x^2] - E[x]^2, the course's computation graphs, im2col products, the
  transposes the course suggests for layer and spatial batch norm), float32 computed in float32 or through
  float64;
- typical bugs: a missing term or factor, a wrong axis, a sign, eps outside the square root, an overwrite
  where windows overlap, a missing bias correction.

on inputs like the checks' (the course's check inputs, random shapes and scales, float64 and float32), and
prints per TODO id and dtype the largest honest difference, the smallest bug difference (each bug at its most
visible case, as a check fails on its worst case) and the configured tolerance, with the margins.

The checks draw their inputs afresh for every grading (Tester.rng), so a tolerance must hold for every draw:
the random inputs here are drawn from several random salts (printed, to reproduce a run with --salt), the
honest noise taken at its largest over all of them and each bug at its least visible salt. The script exits
1 when a tolerance is less than MARGIN times above the honest noise, or less than MARGIN times below the
smallest float64 bug, or when a TOL entry of the checks (a float32 one included) was not measured at all.

    python instructor/tools/measure_tolerances.py                # 4 random salts
    python instructor/tools/measure_tolerances.py --salts 10     # more draws
    python instructor/tools/measure_tolerances.py --salt 1234    # one given salt, to reproduce a run
"""

import argparse
import importlib.util
import secrets
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "instructor"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# One module of measures per hidden check module (tolerances/layers.py measures the TODOs hidden_tests/layers.py
# checks); every measure_* function of them runs, in their order.
from tolerances import _common, classifiers, conv, convnet, layers, norms, optim  # noqa: E402
from tolerances._common import F32, F64  # noqa: E402

MARGIN = 30.0


# -- report -------------------------------------------------------------------------------------------------------


def configured_tolerances():
    """{TODO id: (tol f64, tol f32)} of every hidden check module's TOL table (None: no check of that dtype), or
    {TODO id: _support.SameAs(another TODO id)} for an entry that takes another TODO's tolerance."""
    folder = REPO / "instructor/hidden_tests"
    # The check modules import their shared helpers as `_support`, which the grader loads first.
    sys.path.insert(0, str(folder))
    try:
        found = {}
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            spec = importlib.util.spec_from_file_location(f"_measure_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            found.update(getattr(module, "TOL", {}))
        return found
    finally:
        sys.path.remove(str(folder))


MEASURES = tuple(value for module in (layers, norms, conv, optim, classifiers, convnet)
                 for name, value in vars(module).items()
                 if name.startswith("measure_") and getattr(value, "__module__", None) == module.__name__)


def measure_all(salts):
    """{TODO id: (honest rows, bug rows)} over every salt; a row is (variant, dtype, difference, salt)."""
    measured = {}
    for salt in salts:
        _common.SALT[0] = salt
        for measure in MEASURES:
            for name, (ok_rows, bug_rows) in measure().items():
                ok, bug = measured.setdefault(name, ([], []))
                ok.extend((*row, salt) for row in ok_rows)
                bug.extend((*row, salt) for row in bug_rows)
    return measured


def _smallest_bug(bug_rows, dtype):
    """(bug, difference) of the bug least visible: per bug and salt its worst case (a check fails on its worst
    case), then the smallest of those over bugs and salts (a bug must be caught at every grading)."""
    per_draw = {}
    for variant, d, value, salt in bug_rows:
        if d == dtype:
            per_draw[(variant, salt)] = max(per_draw.get((variant, salt), 0.0), value)
    if not per_draw:
        return "-", np.inf
    (variant, _), value = min(per_draw.items(), key=lambda kv: kv[1])
    return variant, value


def _same_as(tolerances):
    """{TODO id: the TODO id whose tolerance it takes} of the SameAs entries (a str; a measured entry is a tuple)."""
    return {name: str(entry) for name, entry in tolerances.items() if isinstance(entry, str)}


def report(measured, tolerances):
    """Print the table by TODO id; return the problems found."""
    same = _same_as(tolerances)
    width = max(map(len, [*measured, *tolerances]), default=8)
    print(f"{'TODO':{width}} {'dtype':8} {'honest max':>11} {'(variant)':28} {'bug min':>9} {'(bug)':28} "
          f"{'tolerance':>9}  margins")
    problems = []
    for name in sorted(set(tolerances) - set(measured) - set(same)):
        problems.append(f"{name}: a TOL entry that nothing measured")
    for name, target in same.items():
        if name in measured:
            problems.append(f"{name}: measured, but its TOL entry takes {target}'s tolerance")
        elif not isinstance(tolerances.get(target), tuple) or target not in measured:
            problems.append(f"{name}: takes the tolerance of {target}, which has no measured TOL entry")
    for name, (ok_rows, bug_rows) in measured.items():
        tol_pair = tolerances.get(name)
        if tol_pair is None:
            problems.append(f"{name}: no tolerance configured")
            continue
        for i, dtype in enumerate((F64, F32)):
            ok = [r for r in ok_rows if r[1] == dtype]
            tol = tol_pair[i]
            if tol is None:
                if ok:
                    problems.append(f"{name} {np.dtype(dtype).name}: measured, but TOL has no tolerance for it")
                continue
            if not ok:
                problems.append(f"{name} {np.dtype(dtype).name}: a tolerance that nothing measured")
                continue
            worst = max(ok, key=lambda r: r[2])
            bug, smallest = _smallest_bug(bug_rows, dtype)
            above = tol / max(worst[2], 1e-17)
            below = smallest / tol
            flags = []
            if above < MARGIN:
                flags.append("TOO CLOSE TO NOISE")
            if dtype == F64 and below < MARGIN:
                flags.append("TOO CLOSE TO A BUG")
            if flags:
                problems.append(f"{name} {np.dtype(dtype).name}: {', '.join(flags)}")
            print(f"{name:{width}} {np.dtype(dtype).name:8} {worst[2]:11.1e} {worst[0][:28]:28} {smallest:9.1e} "
                  f"{bug[:28]:28} {tol:9.0e}  x{above:.0e} above, x{below:.0e} below {' '.join(flags)}")
    for name, target in sorted(same.items()):
        print(f"{name:{width}} the tolerance of {target}")
    return problems


def main(argv=()):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--salts", type=int, default=4, help="how many random salts to draw the cases from")
    parser.add_argument("--salt", type=int, action="append", help="a given salt (repeatable), to reproduce a run")
    args = parser.parse_args(list(argv))
    salts = args.salt or [secrets.randbits(63) for _ in range(args.salts)]
    print(f"salts: {' '.join(str(s) for s in salts)}")
    problems = report(measure_all(salts), configured_tolerances())
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("tolerances: OK" if not problems else f"tolerances: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
