"""The grading config (instructor/grading.toml): course layout, limits, and points per TODO.

    [course]
    package = "cs231n"                      # the student package
    public_tests = "tests"                  # shipped to students; they do not decide scores
    hidden_tests = "instructor/hidden_tests"  # grader-side checks (coursekit.hidden), one @check per case
    kit_files = ["setup.py", "pyproject.toml", "requirements.txt", "get_datasets.sh", "collectSubmission.sh"]
    given = ["cs231n/fast_layers.py"]       # always the reference's copy when grading, whatever was submitted

    [limits]                                # all optional
    test_timeout = 60                       # seconds per request to the submission's code
    grade_timeout = 480                     # seconds for all code checks of a submission: checks not
                                            # started by then fail (Gradescope's limit stays out of reach)
    memory_mb = 4096                        # address space of a worker
    model_timeout = 60                      # seconds for the submission's classes to score the notebook
                                            # TODOs' models, all of them together (coursekit.models)
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

A code TODO is scored by the hidden checks that name it; a notebook TODO by the model file `<tag>.npz`
(override with `model = "file.npz"`): its class must be one of `classes`, the submission's own class must
reproduce it, and the accuracy the grader measures itself with the reference code must reach min_accuracy
(coursekit.models says what else is checked).
A node id in `public` matches every collected test whose id equals it or starts with it followed by `[`
(parametrized) or `::` (a class's tests).
"""

from dataclasses import dataclass, field
from pathlib import Path

import tomllib

DEFAULT_KIT_FILES = ["setup.py", "pyproject.toml", "requirements.txt", "get_datasets.sh", "collectSubmission.sh"]
SPLITS = ("test", "val")


class ConfigError(ValueError):
    """A problem in grading.toml; the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class Limits:
    test_timeout: int = 60
    grade_timeout: int = 480
    memory_mb: int = 4096
    model_timeout: int = 60
    notebook_cell_timeout: int = 900
    notebook_timeout: int = 1800


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
        unknown = set(entry) - {"id", "assignment", "points", "public", "model", "split", "min_accuracy", "classes",
                                  "layers", "stand_ins"}
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
    )


def node_matches(pattern, nodeid):
    return nodeid == pattern or nodeid.startswith(pattern + "[") or nodeid.startswith(pattern + "::")
