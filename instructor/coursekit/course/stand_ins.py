"""Given code that can do a TODO's work: found by `coursekit validate`, disabled by the grader.

A kit ships given code beside the TODOs (fast layers, sandwich layers, a deeper network...). If a given
function computes what a TODO computes, a student can hand the TODO's work to it: `conv_forward_naive`
returning `conv_forward_fast(...)`. The rule: every such function or class is declared in the TODO's
grading.toml `stand_ins`, and the worker replaces it by one that raises while that TODO is graded
(worker.Worker.disable). This module finds the undeclared ones, so that the next one shipped is caught:

- a given function with the same parameter names as a function TODO is tried in the TODO's place on the
  TODO's hidden checks (in-process, on the reference: expected.check_outcomes), also paired with every
  candidate for the TODOs those checks keep as the student's (a backward pass reading its own forward's
  cache); passing any check makes it a stand-in;
- a given class that has every method a TODO class has as a TODO (`__init__` and `loss`) can be configured
  into it, so it is a stand-in of those TODOs.
Declared stand-ins are disabled during the probes, as in grading; an undeclared one that passes is a problem.
"""

import importlib
import inspect
import itertools
from pathlib import Path

from ..grading import expected


def _given(grader):
    """{(module relative to the package, name): object} of the public top-level functions and classes of the
    kit's package (grader.base) that hold no TODO."""
    todo_names = {(t.module.partition(".")[2], t.name.split(".")[0]) for t in grader.code_todos}
    out = {}
    package_dir = Path(grader.base) / grader.package
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not module:
            continue
        try:
            loaded = importlib.import_module(f"{grader.reference_name}.{module}")
        except Exception:  # noqa: BLE001 - a module the reference cannot import has nothing to offer
            continue
        for name, value in vars(loaded).items():
            if (name.startswith("_") or (module, name) in todo_names
                    or not (inspect.isfunction(value) or inspect.isclass(value))
                    or getattr(value, "__module__", None) != loaded.__name__):
                continue
            out[(module, name)] = value
    return out


def _params(fn):
    try:
        return tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None


def _path(module, name, package):
    return f"{package}/{module.replace('.', '/')}.py::{name}"


def _refuse(name):
    def refused(*args, **kwargs):
        raise RuntimeError(f"{name} is disabled")

    return refused


def function_problems(grader):
    """Undeclared given functions that pass a check of a function TODO in its place."""
    given = {key: fn for key, fn in _given(grader).items() if inspect.isfunction(fn)}
    todos = {t.id: t for t in grader.code_todos if "." not in t.name}
    candidates = {}
    for todo_id, todo in todos.items():
        module = todo.module.partition(".")[2]
        reference = getattr(importlib.import_module(f"{grader.reference_name}.{module}"), todo.name)
        wanted = _params(reference)
        candidates[todo_id] = [key for key, fn in given.items()
                               if _params(fn) == wanted and _path(*key, grader.package) not in todo.stand_ins]
    problems = []
    for (todo_id, uses), specs in grader.groups().items():
        if todo_id not in todos:
            continue
        student = {todo_id, *uses}
        disabled = {}
        for t in student:
            for path in grader.cfg.todo(t).stand_ins:
                file, name = path.split("::", 1)
                key = (file.removesuffix(".py").replace("/", ".").partition(".")[2], name)
                disabled[key] = _refuse(name)
        keep = [u for u in uses if u in todos]
        for own in candidates[todo_id]:
            for pairing in itertools.product(*[[None, *candidates[u]] for u in keep]):
                replacements = dict(disabled)
                for todo, key in zip([todo_id, *keep], [own, *pairing]):
                    if key is not None:
                        t = todos[todo]
                        replacements[(t.module.partition(".")[2], t.name)] = given[key]
                outcomes, _ = expected.check_outcomes(grader, specs, student, replacements)
                if any(outcomes.values()):
                    problems.append(f"given {_path(*own, grader.package)} passes checks of {todo_id} in its place: "
                                    "add it to that TODO's stand_ins in grading.toml (it is then disabled while "
                                    "the TODO is graded) or do not ship it")
                    break
    return sorted(set(problems))


def class_problems(grader):
    """Given classes that have every TODO method of a TODO class, undeclared as that class's stand-ins."""
    methods = {}
    for todo in grader.code_todos:
        owner, _, method = todo.name.rpartition(".")
        if owner:
            methods.setdefault((todo.path, owner), []).append(todo)
    problems = []
    for (module, name), cls in _given(grader).items():
        if not inspect.isclass(cls):
            continue
        path = _path(module, name, grader.package)
        for (file, owner), todos in methods.items():
            names = {t.name.rpartition(".")[2] for t in todos}
            undeclared = [t.id for t in todos if path not in t.stand_ins]
            if all(n in vars(cls) for n in names) and undeclared:
                problems.append(f"given class {path} has the methods {', '.join(sorted(names))} of the TODO class "
                                f"{owner} ({file}), so it can be configured into it: add it to the stand_ins of "
                                f"{', '.join(undeclared)} or do not ship it")
    return problems
