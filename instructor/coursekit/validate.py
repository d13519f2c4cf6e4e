"""`coursekit validate`: the tests and the release agree with each other (nbgrader's validate, for modules too).

For each assignment, through the real grader (sandbox included):
1. the reference solution passes every public and hidden check of every TODO;
2. the untouched release fails every check of every TODO, and each failure (test id or message, both shown
   to the student) names the function to implement;
3. with `--solve TODO`: the release with exactly that TODO solved scores exactly its points.
Exit status 1 lists every broken expectation.
"""

import tempfile
from pathlib import Path

from .grade import Grader
from .reference import Reference
from .release import write_solved


def _check_reference(grader, ref, problems):
    with tempfile.TemporaryDirectory(prefix="coursekit-ref-") as tmp:
        notes = []
        by_todo = grader.checks(write_solved(ref, grader.assignment, Path(tmp)), notes)
    for todo_id, checks in by_todo.items():
        for check in checks:
            if not check.passed:
                first = check.message.strip().splitlines()[-1:] or [""]
                problems.append(f"reference fails {check.name} of {todo_id}: {first[0]}")
        if not checks:
            problems.append(f"{todo_id} has no checks")
    return sum(len(c) for c in by_todo.values())


def _check_release(grader, problems):
    by_todo = grader.checks(grader.base, [])
    todos = {t.id: t for t in grader.todos}
    for todo_id, checks in by_todo.items():
        todo = todos[todo_id]
        for check in checks:
            if check.passed:
                problems.append(f"release passes {check.name} of {todo_id}: the test cannot tell the stub apart")
            elif not todo.is_notebook and todo.function not in f"{check.name}\n{check.message}":
                # A student sees the test id and its message (results.json); one of them must say where to work.
                problems.append(f"release failure of {check.name} does not name {todo.function!r} (TODO {todo_id})")
    return sum(len(c) for c in by_todo.values())


def _check_solved(grader, ref, todo_id, problems):
    with tempfile.TemporaryDirectory(prefix="coursekit-one-") as tmp:
        results = grader.grade(write_solved(ref, grader.assignment, Path(tmp), solved={todo_id}))
    expected = ref.config.todo(todo_id).points
    if results["score"] != expected:
        wrong = [f"{t['name']}={t['score']:g}" for t in results["tests"] if t["score"] and t["name"] != todo_id]
        problems.append(
            f"release with only {todo_id} solved scores {results['score']:g}, expected {expected:g}"
            + (f" (also scored: {', '.join(wrong)})" if wrong else "")
        )
    return results["score"], expected


def main(*, root=None, config=None, assignments=None, solve=(), notebooks=False, test_timeout=None):
    ref = Reference(root, config)
    ref.check_config_covers()
    names = assignments or list(ref.config.assignments)
    problems = []
    for name in names:
        with Grader(ref, name, notebooks=notebooks, test_timeout=test_timeout) as grader:
            n = _check_reference(grader, ref, problems)
            print(f"{name}: reference ran {n} checks of {len(grader.graded_todos())} TODOs")
            n = _check_release(grader, problems)
            print(f"{name}: release ran {n} checks")
            for todo_id in solve:
                if ref.config.todo(todo_id).assignment == name:
                    got, expected = _check_solved(grader, ref, todo_id, problems)
                    print(f"{name}: release + {todo_id} solved scores {got:g} (expected {expected:g})")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("validate: OK" if not problems else f"validate: {len(problems)} problem(s)")
    return 1 if problems else 0
