"""The grading config (instructor/grading.toml): course layout, limits, and points and tests per TODO.

    [course]
    package = "cs231n"                      # the student package, shipped whole (stubbed)
    public_tests = "tests"                  # shipped to students
    hidden_tests = "instructor/hidden_tests"
    kit_files = ["setup.py", "pyproject.toml", "requirements.txt", "get_datasets.sh", "collectSubmission.sh"]

    [limits]                                # all optional
    test_timeout = 120                      # seconds per test
    run_timeout = 1800                      # seconds per pytest run (public, hidden, notebooks)
    memory_mb = 4096
    notebook_cell_timeout = 900

    [assignments.assignment1]
    notebooks = ["two_layer_net.ipynb"]     # inside the assignment1/ folder

    [[todo]]
    id = "cs231n/layers.py::affine_forward" # file::function qualname, or notebook::cell id
    assignment = "assignment2"
    points = 2
    public = ["tests/test_layers.py::test_affine_forward"]           # pytest node ids (prefixes)
    hidden = ["hidden_tests/test_layers_hidden.py::test_affine_forward"]

    [[todo]]                                # a notebook TODO is graded through its notebook's nbval cells
    id = "assignment1/two_layer_net.ipynb::tune"
    assignment = "assignment1"
    points = 4
    cells = ["tune", "evaluate-best"]       # cell ids whose nbval items must pass (default: its own cell)
    min_results = { "two-layer val accuracy" = 0.45 }   # printed as `RESULT <name>: <value>`

A node id in `public`/`hidden` matches every collected test whose id equals it or starts with it followed by
`[` (parametrized) or `::` (a class's tests).
"""

from dataclasses import dataclass, field
from pathlib import Path

import tomllib

DEFAULT_KIT_FILES = ["setup.py", "pyproject.toml", "requirements.txt", "get_datasets.sh", "collectSubmission.sh"]


class ConfigError(ValueError):
    """A problem in grading.toml; the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class Limits:
    test_timeout: int = 120
    run_timeout: int = 1800
    memory_mb: int = 4096
    notebook_cell_timeout: int = 900
    output_bytes: int = 400_000


@dataclass(frozen=True)
class Todo:
    id: str
    assignment: str
    points: float
    public: tuple = ()
    hidden: tuple = ()
    cells: tuple = ()
    min_results: dict = field(default_factory=dict)

    @property
    def path(self):
        return self.id.split("::", 1)[0]

    @property
    def name(self):
        return self.id.split("::", 1)[1]

    @property
    def is_notebook(self):
        return self.path.endswith(".ipynb")

    @property
    def function(self):
        """The name a failure message should mention: `loss` for `FullyConnectedNet.loss`, the class for an
        `__init__` (nobody writes `__init__` in a message)."""
        parts = self.name.split(".")
        return parts[-2] if parts[-1] == "__init__" and len(parts) > 1 else parts[-1]


@dataclass(frozen=True)
class Config:
    path: Path
    package: str
    public_tests: str
    hidden_tests: str
    kit_files: tuple
    limits: Limits
    assignments: dict  # name -> tuple of notebook file names
    todos: tuple

    def todos_for(self, assignment):
        return [t for t in self.todos if t.assignment == assignment]

    def todo(self, todo_id):
        for t in self.todos:
            if t.id == todo_id:
                return t
        raise ConfigError(f"{self.path}: no TODO {todo_id!r}; known TODOs: {', '.join(t.id for t in self.todos)}")


def _str_list(value, where):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def load(path):
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"grading config {path} not found; pass --config or run from the reference tree"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from exc

    course = data.get("course", {})
    limits_data = data.get("limits", {})
    unknown = set(limits_data) - set(Limits.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{path}: unknown [limits] keys {sorted(unknown)}; allowed: {list(Limits.__dataclass_fields__)}")
    limits = Limits(**limits_data)

    assignments = {}
    for name, entry in data.get("assignments", {}).items():
        assignments[name] = _str_list(entry.get("notebooks", []), f"{path}: [assignments.{name}] notebooks")
    if not assignments:
        raise ConfigError(f"{path}: no [assignments.<name>] tables; add one per assignment folder")

    todos = []
    seen = set()
    for i, entry in enumerate(data.get("todo", [])):
        where = f"{path}: [[todo]] #{i + 1}"
        for key in ("id", "assignment", "points"):
            if key not in entry:
                raise ConfigError(f"{where} lacks the {key!r} key")
        todo_id = entry["id"]
        where = f"{path}: [[todo]] {todo_id!r}"
        if "::" not in todo_id:
            raise ConfigError(f"{where}: id must be 'file::function' or 'notebook.ipynb::cell-id'")
        if todo_id in seen:
            raise ConfigError(f"{where} is listed twice")
        seen.add(todo_id)
        if entry["assignment"] not in assignments:
            raise ConfigError(f"{where}: assignment {entry['assignment']!r} has no [assignments.*] table")
        points = entry["points"]
        if not isinstance(points, int | float) or points <= 0:
            raise ConfigError(f"{where}: points must be a positive number")
        todo = Todo(
            id=todo_id,
            assignment=entry["assignment"],
            points=float(points),
            public=_str_list(entry.get("public", []), f"{where} public"),
            hidden=_str_list(entry.get("hidden", []), f"{where} hidden"),
            cells=_str_list(entry.get("cells", []), f"{where} cells"),
            min_results={str(k): float(v) for k, v in entry.get("min_results", {}).items()},
        )
        if todo.is_notebook:
            if todo.public or todo.hidden:
                raise ConfigError(f"{where}: a notebook TODO is graded by its cells; use 'cells', not public/hidden")
            if not todo.cells:
                todo = Todo(**{**todo.__dict__, "cells": (todo.name,)})
        elif not (todo.public or todo.hidden):
            raise ConfigError(f"{where} lists no tests; add its public and hidden test node ids")
        todos.append(todo)

    return Config(
        path=path,
        package=course.get("package", "cs231n"),
        public_tests=course.get("public_tests", "tests"),
        hidden_tests=course.get("hidden_tests", "instructor/hidden_tests"),
        kit_files=_str_list(course.get("kit_files", DEFAULT_KIT_FILES), f"{path}: [course] kit_files"),
        limits=limits,
        assignments=assignments,
        todos=tuple(todos),
    )


def node_matches(pattern, nodeid):
    return nodeid == pattern or nodeid.startswith(pattern + "[") or nodeid.startswith(pattern + "::")
