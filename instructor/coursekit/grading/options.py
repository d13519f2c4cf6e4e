"""The options of one `coursekit grade`, as one record: the CLI reads them into it (`from_args`), grade.main grades
with it, and grade-batch, the Gradescope autograder and the benchmarks render the command line that runs a grade
from it (`argv`, `flags`), so a grade option is named, defaulted and spelled in one place."""

import dataclasses
import os
from dataclasses import dataclass

from ..sandbox.isolation import DEFAULT_UID_BASE

# Field -> its `coursekit grade` flag, in the order argv() renders them (run_autograder's @@GRADE_ARGS@@ and the
# autograder.json manifest follow this order).
FLAGS = {"root": "--root", "config": "--config", "base": "--base", "assignment": "--assignment",
         "isolation": "--isolation", "worker_python": "--worker-python", "worker_uid_base": "--worker-uid-base",
         "jobs": "--jobs", "test_timeout": "--test-timeout", "todos": "--todos", "previous": "--previous",
         "notebooks": "--notebooks", "require_isolation": "--require-isolation"}
PATHS = ("submission", "results", "root", "config", "base", "previous")


@dataclass(frozen=True)
class GradeOptions:
    """Everything `coursekit grade` takes, with the CLI's defaults. Paths are kept as text (as the CLI gives them).
    `base`: a kit built once by grade.build_base, so a grade skips building the extension (grade-batch, Gradescope).
    `todos`, `previous`: regrade those TODOs only, the others taken from the results.json `previous`."""

    submission: str = ""
    results: str = "results.json"
    root: str | None = None
    config: str | None = None
    base: str | None = None
    assignment: str | None = None
    isolation: str = "auto"
    worker_python: str | None = None
    worker_uid_base: int = DEFAULT_UID_BASE
    jobs: int = 2
    test_timeout: float | None = None
    todos: tuple = ()
    previous: str | None = None
    notebooks: bool = False
    require_isolation: bool = False

    def __post_init__(self):
        for name in PATHS:
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                object.__setattr__(self, name, os.fspath(value))
        object.__setattr__(self, "todos", tuple(self.todos or ()))

    @classmethod
    def from_args(cls, args):
        """The options of a parsed `coursekit grade` command line (cli.build_parser)."""
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})

    def flags(self):
        """The arguments after `grade SUBMISSION --results RESULTS`: every option that differs from its default
        (an empty text counts as unset), `--previous` only with `--todos`."""
        out = []
        for name, flag in FLAGS.items():
            value = getattr(self, name)
            if value == DEFAULTS[name] or value == "" or (name == "previous" and not self.todos):
                continue
            if isinstance(value, bool):
                out.append(flag)
            elif name == "todos":
                out += [part for todo in value for part in (flag, todo)]
            else:
                out += [flag, str(value)]
        return out

    def argv(self):
        """The `coursekit grade` command line (after `coursekit`) that grades with these options."""
        return ["grade", self.submission, "--results", self.results, *self.flags()]


DEFAULTS = {f.name: f.default for f in dataclasses.fields(GradeOptions)}
