"""`coursekit validate`: the checks, the public tests and the release agree with each other.

For each assignment, through the real grader (sandbox included):
1. the reference solution passes every hidden check of every code TODO, and its trained models (the
   `<tag>.npz` files the reference notebooks save next to themselves) pass every notebook TODO;
2. the untouched release fails every check of every TODO, and each failure names the function;
3. with `--solve TODO`: the release with exactly that TODO solved scores exactly its points; a notebook TODO
   is solved with the code TODOs its model runs (traced in the reference's construction and forward pass
   of the reference notebook's model), and the release then scores exactly the sum of their points;
4. the public tests of the kit: with the reference code they all pass; on the untouched release every test
   listed for one of the assignment's TODOs fails (other tests may fail too: they exercise several TODOs
   of the kit at once, and the reference run shows nothing else makes them fail);
5. no given function or class of the kit can do a TODO's work unless grading.toml declares it among the
   TODO's `stand_ins` (stand_ins.py), which the grader disables while that TODO is graded.
Exit status 1 lists every broken expectation.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from ..authoring.release import write_solved
from ..config import node_matches
from ..grading import models
from ..grading.grade import Grader
from ..grading.results import Results
from ..reference import Reference
from . import stand_ins


def _score(grader, by_todo):
    points = sum(t.points * sum(r.passed for r in by_todo[t.id]) / len(by_todo[t.id]) for t in grader.todos if by_todo[t.id])
    total = sum(t.points for t in grader.todos)
    return f"{points:g} / {total:g} points ({100 * points / total:.0f} %)"


def _check_reference(grader, ref, problems):
    with tempfile.TemporaryDirectory(prefix="coursekit-ref-") as tmp:
        by_todo = grader.check_submission(write_solved(ref, grader.assignment, Path(tmp),
                                                       models=ref.root / grader.assignment)).by_todo
    for todo_id, results in by_todo.items():
        for result in results:
            if not result.passed:
                problems.append(f"reference fails {result.name} of {todo_id}: {result.message}")
        if not results:
            problems.append(f"{todo_id} has no checks")
    return sum(len(r) for r in by_todo.values()), _score(grader, by_todo)


def _check_release(grader, problems):
    by_todo = grader.check_submission(grader.base).by_todo
    todos = {t.id: t for t in grader.todos}
    for todo_id, results in by_todo.items():
        todo = todos[todo_id]
        for result in results:
            if result.passed:
                problems.append(f"release passes {result.name} of {todo_id}: the check cannot tell the stub apart")
            elif not todo.is_notebook and todo.function not in f"{result.name}\n{result.message}":
                problems.append(f"release failure of {result.name} does not name {todo.function!r} (TODO {todo_id})")
    return sum(len(r) for r in by_todo.values()), _score(grader, by_todo)


def _solved_with(grader, ref, todo_id):
    """`todo_id` and, for a notebook TODO, the code TODOs the reference notebook's model runs (None: no model)."""
    todo = ref.config.todo(todo_id)
    if not todo.is_notebook:
        return {todo_id}
    path = ref.root / grader.assignment / todo.model
    if not path.is_file():
        return None
    return {todo_id, *models.forward_todos(path, grader.code_todos, grader.reference_name)}


def _check_solved(grader, ref, todo_id, problems):
    solved = _solved_with(grader, ref, todo_id)
    if solved is None:
        problems.append(f"{todo_id} has no reference model {grader.assignment}/{ref.config.todo(todo_id).model} "
                        "to solve it with: run `make notebooks` first")
        return None, ref.config.todo(todo_id).points, [todo_id]
    with tempfile.TemporaryDirectory(prefix="coursekit-one-") as tmp:
        results = Results.from_gradescope(grader.grade(write_solved(ref, grader.assignment, Path(tmp), solved=solved,
                                                                    models=ref.root / grader.assignment)))
    expected = sum(ref.config.todo(t).points for t in solved)
    if results.score != expected:
        wrong = [f"{t.label}={t.score:g}" for t in results.todos if t.score and t.id not in solved]
        problems.append(
            f"release with only {', '.join(sorted(solved))} solved scores {results.score:g}, expected {expected:g}"
            + (f" (also scored: {', '.join(wrong)})" if wrong else "")
        )
    return results.score, expected, sorted(solved)


def _run_public(kit):
    """{test id: passed} of `pytest tests` in the kit folder `kit` (our own code: no sandbox needed)."""
    report = Path(kit) / ".public.xml"
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "CS231N_DATASET": "fashion_mnist"}
    env.pop("PYTHONPATH", None)
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--rootdir",
                    str(kit), "-o", "pythonpath=.", f"--junitxml={report}", "tests"], cwd=kit, env=env,
                   capture_output=True, text=True, timeout=1800)
    outcome = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/")
        test_id = f"{path}.py::{case.get('name')}"
        outcome[test_id] = not any(child.tag in ("failure", "error") for child in case)
    report.unlink()
    return outcome


def _check_public(grader, ref, problems):
    todos = [t for t in grader.todos if t.public]
    with tempfile.TemporaryDirectory(prefix="coursekit-public-") as tmp:
        kit = Path(tmp) / "kit"
        shutil.copytree(grader.base, kit)
        release = _run_public(kit)
        write_solved(ref, grader.assignment, kit)
        reference = _run_public(kit)
    for test_id, passed in reference.items():
        if not passed:
            problems.append(f"public test {test_id} fails on the reference")
    for test_id, passed in release.items():
        owners = [t.id for t in todos if any(node_matches(p, test_id) for p in t.public)]
        if passed and owners:
            problems.append(f"public test {test_id} of {owners[0]} passes on the untouched release")
    for todo in todos:
        for pattern in todo.public:
            if not any(node_matches(pattern, test_id) for test_id in release):
                problems.append(f"public test {pattern} of {todo.id} is not in the {grader.assignment} kit")
    return len(release), sum(not p for p in release.values()), sum(not p for p in reference.values())


def main(*, root=None, config=None, assignments=None, solve=(), public=True):
    ref = Reference(root, config)
    ref.check_config_covers()
    names = assignments or list(ref.config.assignments)
    problems = []
    for name in names:
        with Grader(ref, name) as grader:
            print(grader.iso.describe())
            n, score = _check_reference(grader, ref, problems)
            print(f"{name}: reference scores {score} in {n} checks of {len(grader.todos)} TODOs")
            n, score = _check_release(grader, problems)
            print(f"{name}: untouched release scores {score} in {n} checks")
            for todo_id in solve:
                if ref.config.todo(todo_id).assignment == name:
                    got, expected, solved = _check_solved(grader, ref, todo_id, problems)
                    also = f" with {', '.join(t for t in solved if t != todo_id)}" if len(solved) > 1 else ""
                    print(f"{name}: release + {todo_id} solved{also} scores "
                          f"{'nothing' if got is None else f'{got:g}'} (expected {expected:g})")
            found = stand_ins.function_problems(grader) + stand_ins.class_problems(grader)
            problems += found
            print(f"{name}: {len(found)} undeclared stand-in(s) among the given code")
            if public:
                total, on_release, on_reference = _check_public(grader, ref, problems)
                print(f"{name}: {total} public tests; {on_release} fail on the untouched release, {on_reference} on the reference")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("validate: OK" if not problems else f"validate: {len(problems)} problem(s)")
    return 1 if problems else 0
