"""The grading config (instructor/grading.toml): course layout, limits, and points per TODO.

    [course]
    package = "cs231n"                      # the student package
    public_tests = "tests"                  # shipped to students; they do not decide scores
    hidden_tests = "instructor/hidden_tests"  # grader-side checks (coursekit.grading.hidden), one @check per case
    kit_files = ["setup.py", "pyproject.toml", "requirements.txt", "get_datasets.sh", "collectSubmission.sh"]
    given = ["cs231n/fast_layers.py"]       # always the reference's copy when grading, whatever was submitted

    [limits]                                # all optional
    test_timeout = 60                       # seconds per request to the submission's code
    grade_timeout = 420                     # seconds for all code checks of a submission: checks not
                                            # started by then fail (Gradescope's limit stays out of reach)
    memory_mb = 4096                        # address space of a worker
    model_timeout = 60                      # seconds for the submission's classes to score the notebook
                                            # TODOs' models, all of them together (coursekit.grading.models)
    notebook_cell_timeout = 900             # --notebooks: seconds per cell
    notebook_timeout = 1800                 # --notebooks: seconds for all notebooks of a submission

    [assignments.assignment1]
    notebooks = ["two_layer_net.ipynb"]     # inside the assignment1/ folder

    [[todo]]
    id = "cs231n/layers.py::conv_forward_naive"   # file::function qualname
    assignment = "assignment2"
    points = 4
    public = ["tests/test_layers.py::test_conv_forward"]   # the public tests of this TODO (kit, validate)
    stand_ins = ["cs231n/fast_layers.py::conv_forward_fast"]  # given code that can do this TODO's work: it
                                            # raises while this TODO is graded (validate finds undeclared ones)

    [[todo]]                                # a notebook TODO: the model its graded cell saved
    id = "assignment1/two_layer_net.ipynb::two_layer_net_tuning"   # notebook::tag of `# GRADED: <tag>`
    assignment = "assignment1"
    points = 5
    split = "test"                          # test, val, or train:N (the first N training images)
    min_accuracy = { cifar10 = 0.48, fashion_mnist = 0.85 }   # per dataset the model was trained on
    classes = ["cs231n.classifiers.neural_net.TwoLayerNet"]   # the model classes the graded cell may save
    layers = 3                              # optional: the number of weight layers the model must have

    visibility = { hidden_checks = "visible" }   # this TODO's own [visibility] settings (any key of it)

    [visibility]                            # what a student sees, and when (Gradescope's values: visible,
    summary = "visible"                     #   after_due_date, after_published, hidden): each TODO's points
    public_checks = "visible"               #   and "k/n checks passed"; the name and message of each check on
    hidden_checks = "after_published"       #   the course's own inputs (public), and of the other checks
    show_total = false                      # true: the total at once (needs no after_* setting above)
    checks = { affine_forward_random_shapes = "hidden" }   # one check's details, by its name

    [leaderboard]                           # opt-in: a notebook TODO's measured accuracy on Gradescope's
    todo = "assignment2/ConvolutionalNetworks.ipynb::cnn_best_model"   # leaderboard (with its parameters)

    [submissions]                           # opt-in: graded submissions per student and window (Gradescope);
    limit = 3                               #   one over the limit keeps the previous score
    window_hours = 24

    [assignments.assignment2]
    min_memory_mb = 768                     # the smallest container memory that grades it (grade refuses
    min_memory_mb_notebooks = 2048          #   less, saying what to set); with --notebooks

A code TODO is scored by the hidden checks that name it; a notebook TODO by the model file `<tag>.npz`
(override with `model = "file.npz"`): its class must be one of `classes`, the submission's own class must
reproduce it, and the accuracy the grader measures itself with the reference code must reach min_accuracy
(coursekit.grading.models says what else is checked).
A node id in `public` matches every collected test whose id equals it or starts with it followed by `[`
(parametrized) or `::` (a class's tests).
"""

from dataclasses import dataclass, field
from pathlib import Path

import tomllib

DEFAULT_KIT_FILES = ["setup.py", "pyproject.toml", "requirements.txt", "get_datasets.sh", "collectSubmission.sh"]
SPLITS = ("test", "val")
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
# Gradescope shows a student the total only while no test waits for the due date or for publication.
WAITING = ("after_due_date", "after_published")


class ConfigError(ValueError):
    """A problem in grading.toml; the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class Limits:
    test_timeout: int = 60
    grade_timeout: int = 420
    memory_mb: int = 4096
    model_timeout: int = 60
    notebook_cell_timeout: int = 900
    notebook_timeout: int = 1800


@dataclass(frozen=True)
class Visibility:
    """When a student sees each part of a TODO's result (see the module docstring and results.py)."""

    summary: str = "visible"
    public_checks: str = "visible"
    hidden_checks: str = "after_published"
    show_total: bool = False
    checks: tuple = ()  # ((check name, visibility), ...)

    def of_check(self, name, public):
        return dict(self.checks).get(name, self.public_checks if public else self.hidden_checks)

    def waiting(self):
        """The settings that hold the total back until the due date or publication."""
        found = [f"{k} = {getattr(self, k)!r}" for k in ("summary", "public_checks", "hidden_checks")
                 if getattr(self, k) in WAITING]
        return found + [f"checks.{n} = {v!r}" for n, v in self.checks if v in WAITING]


@dataclass(frozen=True)
class Submissions:
    limit: int = 0  # 0: no limit
    window_hours: float = 24.0


@dataclass(frozen=True)
class Todo:
    id: str
    assignment: str
    points: float
    public: tuple = ()
    model: str = ""
    split: str = "test"
    min_accuracy: dict = field(default_factory=dict)
    classes: tuple = ()
    layers: int = 0
    stand_ins: tuple = ()
    visibility: Visibility = Visibility()

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
    def module(self):
        """`cs231n.classifiers.fc_net` for `cs231n/classifiers/fc_net.py::...` (code TODOs)."""
        return self.path.removesuffix(".py").replace("/", ".")

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
    given: tuple
    limits: Limits
    assignments: dict  # name -> tuple of notebook file names
    todos: tuple
    visibility: Visibility = Visibility()
    leaderboard: str = ""  # the notebook TODO whose measured model goes on the leaderboard; "": none
    submissions: Submissions = Submissions()
    min_memory_mb: dict = field(default_factory=dict)  # assignment -> (without, with --notebooks) in MB

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


def _check_notebook_keys(todo, entry, where):
    """The keys of a notebook TODO (min_accuracy and classes required, layers a count; none on a code TODO) and
    the stand_ins of a code TODO."""
    if type(todo.layers) is not int or todo.layers < 0:
        raise ConfigError(f"{where}: layers must be a positive number of weight layers, got {todo.layers!r}")
    if todo.is_notebook and not todo.min_accuracy:
        raise ConfigError(f"{where}: a notebook TODO needs min_accuracy per dataset, e.g. {{ fashion_mnist = 0.85 }}")
    if todo.is_notebook and (not todo.classes or not all(c.count(".") >= 1 for c in todo.classes)):
        raise ConfigError(f"{where}: a notebook TODO needs classes, the model classes its graded cell may save, "
                          'e.g. ["cs231n.classifiers.cnn.ConvNet"]')
    if not todo.is_notebook and any(entry.get(k) for k in ("min_accuracy", "model", "classes", "layers")):
        raise ConfigError(f"{where}: min_accuracy, model, classes and layers are for notebook TODOs")
    if any("::" not in s or not s.split("::", 1)[0].endswith(".py") for s in todo.stand_ins):
        raise ConfigError(f"{where}: stand_ins are given functions or classes, 'file.py::name'")
    if todo.is_notebook and todo.stand_ins:
        raise ConfigError(f"{where}: stand_ins are for code TODOs")


def _visibility(data, where, base=Visibility()):
    """A Visibility from a [visibility] table (`data`), over `base` for the keys it leaves out."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(data) - set(Visibility.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; allowed: {list(Visibility.__dataclass_fields__)}")
    checks = data.get("checks", dict(base.checks))
    values = {k: data.get(k, getattr(base, k)) for k in ("summary", "public_checks", "hidden_checks")}
    if not isinstance(checks, dict):
        raise ConfigError(f"{where}: checks must map check names to visibilities")
    for key, value in [*values.items(), *((f"checks.{n}", v) for n, v in checks.items())]:
        if value not in VISIBILITIES:
            raise ConfigError(f"{where}: {key} = {value!r}; choose one of {', '.join(VISIBILITIES)}")
    show_total = data.get("show_total", base.show_total)
    if not isinstance(show_total, bool):
        raise ConfigError(f"{where}: show_total must be true or false")
    found = Visibility(**values, show_total=show_total, checks=tuple(sorted(checks.items())))
    if found.show_total and found.waiting():
        raise ConfigError(
            f"{where}: show_total = true, but Gradescope hides the total while any result waits for the due date "
            f"or publication ({', '.join(found.waiting())}): make those 'visible' or 'hidden', or set show_total = false"
        )
    return found


def _course_settings(data, path, todos):
    """The [leaderboard], [submissions] and per-assignment min_memory_mb settings."""
    leaderboard = data.get("leaderboard", {})
    todo = leaderboard.get("todo", "") if isinstance(leaderboard, dict) else None
    notebook_todos = {t.id for t in todos if t.is_notebook}
    if todo is None or (todo and todo not in notebook_todos) or set(leaderboard) - {"todo"}:
        raise ConfigError(f"{path}: [leaderboard] takes one key, todo = the id of a notebook TODO "
                          f"(one of {', '.join(sorted(notebook_todos)) or 'none'})")
    subs = data.get("submissions", {})
    if not isinstance(subs, dict) or set(subs) - {"limit", "window_hours"}:
        raise ConfigError(f"{path}: [submissions] takes limit (submissions per window) and window_hours")
    limit, window = subs.get("limit", 0), subs.get("window_hours", 24)
    if not isinstance(limit, int) or limit < 0 or not isinstance(window, int | float) or window <= 0:
        raise ConfigError(f"{path}: [submissions] limit must be a whole number >= 0 (0: no limit) and window_hours > 0")
    memory = {}
    for name, entry in data.get("assignments", {}).items():
        pair = (entry.get("min_memory_mb", 0), entry.get("min_memory_mb_notebooks", entry.get("min_memory_mb", 0)))
        if not all(isinstance(v, int) and v >= 0 for v in pair):
            raise ConfigError(f"{path}: [assignments.{name}] min_memory_mb(_notebooks) must be whole megabytes")
        if any(pair):
            memory[name] = pair
    return {"leaderboard": todo, "submissions": Submissions(limit, float(window)), "min_memory_mb": memory}


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

    visibility = _visibility(data.get("visibility", {}), f"{path}: [visibility]")
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
        unknown = set(entry) - {"id", "assignment", "points", "public", "model", "split", "min_accuracy", "classes",
                                  "layers", "stand_ins", "visibility"}
        if unknown:
            raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (hidden checks name their TODO themselves)")
        is_notebook = todo_id.split("::", 1)[0].endswith(".ipynb")
        split = entry.get("split", "test")
        if split not in SPLITS and not (split.startswith("train:") and split[6:].isdigit() and int(split[6:]) > 0):
            raise ConfigError(f"{where}: split must be test, val or train:N, got {split!r}")
        min_accuracy = entry.get("min_accuracy", {})
        if not isinstance(min_accuracy, dict) or not all(isinstance(v, int | float) and 0 <= v <= 1 for v in min_accuracy.values()):
            raise ConfigError(f"{where}: min_accuracy must map dataset names to accuracies in [0, 1]")
        todo = Todo(
            id=todo_id,
            assignment=entry["assignment"],
            points=float(points),
            public=_str_list(entry.get("public", []), f"{where} public"),
            model=entry.get("model", f"{todo_id.split('::', 1)[1]}.npz" if is_notebook else ""),
            split=split,
            min_accuracy={str(k): float(v) for k, v in min_accuracy.items()},
            classes=_str_list(entry.get("classes", []), f"{where} classes"),
            layers=entry.get("layers", 0),
            stand_ins=_str_list(entry.get("stand_ins", []), f"{where} stand_ins"),
            visibility=_visibility(entry.get("visibility", {}), f"{where} visibility", visibility),
        )
        _check_notebook_keys(todo, entry, where)
        todos.append(todo)

    return Config(
        path=path,
        package=course.get("package", "cs231n"),
        public_tests=course.get("public_tests", "tests"),
        hidden_tests=course.get("hidden_tests", "instructor/hidden_tests"),
        kit_files=_str_list(course.get("kit_files", DEFAULT_KIT_FILES), f"{path}: [course] kit_files"),
        given=_str_list(course.get("given", []), f"{path}: [course] given"),
        limits=limits,
        assignments=assignments,
        todos=tuple(todos),
        visibility=visibility,
        **_course_settings(data, path, todos),
    )


def node_matches(pattern, nodeid):
    return nodeid == pattern or nodeid.startswith(pattern + "[") or nodeid.startswith(pattern + "::")
