"""`coursekit grade SUBMISSION`: grade one submission (zip or folder) and write a Gradescope results.json.

One rule shapes the design: the code that decides a score never shares a process, a user or a writable
file with student code.

`Grader` is built once per assignment (set-up: the hidden checks, the reference package imported, the
stubbed release kit, the sandbox's isolation mode) and grades each submission through four stages, each in a
module of its own, handing typed records on (`Grader.check_submission`, `Grader.grade_results`):

1. prepare (prepare.py) -> a `Submission` (unpacked folder, the sealed sandbox Run, notes). The submission is
   unpacked (no absolute paths, `..`, symlinks or oversized archives) into a folder of the grader's. Its
   package is assembled for grading: the student's .py files over the release's stubbed package (a missing
   file is graded as its stub), with the `given` infrastructure files and the Cython extension always the
   reference's. The student's own helpers (a function added to layer_utils.py, a new module) stay.
2. code checks (code_checks.py) -> a `Checked` ({TODO id: [results.Check]}, notes). Student code runs only
   in workers (worker.py), started in the sandbox (sandbox/isolation.py: namespaces, uid or none). A worker serves one
   TODO: that TODO is the student's code, every other TODO of the assignment a stub that asks the grader to
   run the reference (session.py), so each code TODO's points depend on it alone. The channel never serves
   the reference of a TODO under test. TODOs that call each other (a cycle, which would let two TODOs that
   only call each other earn both their points) are checked again with the submission's code for the whole
   cycle. A module that fails to import costs only its own TODOs. The hidden checks (hidden.py;
   instructor/hidden_tests) run here, in the grader: they send inputs they made, get back plain data (JSON
   and raw array bytes, validated; never pickle) and compare it with values they compute with the reference
   package. Nothing a worker sends can be anything but data.
3. models (model_checks.py, models.py) -> {TODO id: [Check]}. Notebook TODOs are scored by the model file
   their graded cell saved, read with bounded memory, rebuilt and measured here on the grader's own data; the
   submission's own class, in a worker where every code TODO is the submission's, must reproduce it, so a
   notebook TODO also needs the code its model's forward pass runs (models.py says what a notebook point
   certifies). Printed text earns nothing. `--notebooks` re-executes the notebooks with nbval in the sandbox
   (time-capped, rerun.py) and reports the outcome without points.
4. report (`Grader.report`, results.py) -> a results.Results, written as results.json in every case, by the
   grader only: per TODO its checks' names and messages (which name the function and what was wrong, never
   hidden inputs, expected values or check source), and in `output` the isolation mode that ran; results.py
   decides what a student sees of it, and when (grading.toml [visibility]). A submission that cannot be
   unpacked, or a grader error, still gets one: every TODO fails with the reason.

- Why not PrairieLearn's pytest-prairielearn-grader, whose design this follows (tests in the grader, student
  code in a subprocess behind a Unix socket, privilege dropping, timeouts): its worker returns values
  serialized with dill, which the grader unpickles, so a returned object can run code in the grader; its
  import and builtin restrictions are in-process and would block the numpy code students must write; it
  has no per-TODO reference stubs, no handles for objects that stay in the worker, and no mount, PID or
  network isolation. Here the channel carries JSON and raw array bytes only, and isolation is the
  operating system's (sandbox/isolation.py).
- A container with less memory than the assignment needs grades nothing and says so (container.py).
  `--todos` with `--previous` grades some TODOs and keeps the others' results (a regrade: regrade.py).
"""

import dataclasses
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

from ..authoring.release import build_kit
from ..config import ConfigError
from ..fsutil import UnsafeArchiveError, atomic_write_text
from ..reference import Reference
from ..sandbox import container
from ..sandbox import isolation as sandbox
from . import expected, hidden, models, regrade, rerun
from .code_checks import Checked, CodeChecks
from .identify import detect_assignment
from .model_checks import ModelChecks, cell_notes
from .prepare import Prepare
from .results import Check, Results, TodoResult, leaderboard


def build_base(ref, assignment, dest):
    """The stubbed kit of `assignment` in `dest`, with the extension built from the reference's sources."""
    build_kit(ref, assignment, dest)
    notes = []
    if (Path(dest) / "setup.py").is_file() and any(Path(dest).rglob("*.pyx")):
        proc = subprocess.run(
            [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
            cwd=dest, capture_output=True, text=True, timeout=900,
        )
        if proc.returncode != 0 or not any(Path(dest).rglob("*.so")):
            notes.append("the Cython extension did not build; the numpy fallback is used")
    for junk in Path(dest).rglob("build"):
        if junk.is_dir():
            shutil.rmtree(junk, ignore_errors=True)
    return notes


class Grader:
    """Grades submissions of one assignment; build once, call grade() per submission."""

    def __init__(self, ref, assignment, *, notebooks=False, isolation="auto", require_isolation=False, jobs=2,
                 test_timeout=None, worker_python=None, worker_uid_base=sandbox.DEFAULT_UID_BASE, base=None):
        self.ref = ref
        self.cfg = ref.config
        if assignment not in self.cfg.assignments:
            raise ValueError(f"unknown assignment {assignment!r}; known: {', '.join(self.cfg.assignments)}")
        self.assignment = assignment
        self.notebooks = notebooks
        self.jobs = max(1, jobs)
        self.limits = self.cfg.limits
        self.timeout = test_timeout or self.limits.test_timeout
        self.todos = self.cfg.todos_for(assignment)
        self.code_todos = [t for t in self.todos if not t.is_notebook]
        self.iso = sandbox.detect(isolation, require=require_isolation, python=worker_python, uid_base=worker_uid_base)
        self.package = self.cfg.package
        self.reference_name = ref.load_package()
        for module in sorted({t.module for t in self.code_todos}):
            __import__(f"{self.reference_name}.{module.partition('.')[2]}")
        self.modules = ref.package_modules()
        self.checks = self._load_checks()
        self.public = {(s.todo, s.name) for s in self.checks if s.public}
        self.fingerprints = regrade.fingerprints(ref, assignment)
        self.data = models.DataCache(self.reference_name)
        self._own_base = base is None
        self.base_notes = []
        if base is None:
            base = Path(tempfile.mkdtemp(prefix="coursekit-base-")) / "kit"
            self.base_notes = build_base(ref, assignment, base)
        self.base = Path(base)
        self.notebook_names = [Path(nb).name for nb in self.cfg.assignments[assignment]]

    def close(self):
        if self._own_base:
            shutil.rmtree(self.base.parent, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- set-up -----------------------------------------------------------------------------------

    def _load_checks(self):
        specs = hidden.load_checks(self.ref.root / self.cfg.hidden_tests)
        known = {t.id for t in self.cfg.todos}
        unknown = sorted({s.todo for s in specs if s.todo not in known} | {u for s in specs for u in s.uses if u not in known})
        if unknown:
            raise ConfigError(f"hidden checks name TODOs that grading.toml does not list: {', '.join(unknown)}")
        ours = {t.id for t in self.code_todos}
        specs = [s for s in specs if s.todo in ours]
        missing = sorted(ours - {s.todo for s in specs})
        if missing:
            raise ConfigError(f"no hidden check for {', '.join(missing)}; add @check functions in {self.cfg.hidden_tests}")
        return specs


    def groups(self, only=None):
        """{(TODO id, uses): [CheckSpec]}: the checks of each TODO (of `only`, when given), by the TODOs they keep
        as the student's."""
        groups = {}
        for spec in self.checks:
            if only is None or spec.todo in only:
                groups.setdefault((spec.todo, spec.uses), []).append(spec)
        return groups

    @functools.cached_property
    def expected(self):
        """{TODO id: the TODOs its reference calls on its checks} (expected.py)."""
        return expected.expected_calls(self)

    # -- the pipeline: prepare -> code checks -> models -> report ------------------------------------

    def check_submission(self, submission, only=None, passed=None):
        """A Checked ({todo id: [Check]} and notes) of one submission (zip or folder), of the TODOs of `only`
        (default: all). Raises on an unusable one."""
        with Prepare(self).open(submission) as sub:
            code = CodeChecks(self, sub.run).check(only, passed)
            by_todo = {**code.by_todo, **ModelChecks(self, sub.run).check(sub.root, only)}
            notes = sub.notes + [n for n in code.notes if n not in sub.notes]
            if self.notebooks:
                notes.append(rerun.rerun_notebooks(sub.run, sub.root, self.notebook_names, self.iso.python, self.limits,
                                                   self.reference_name)[0])
            notes += cell_notes(self.todos, sub.root)
        return Checked(by_todo, notes)

    def grade_results(self, submission, only=None, passed=None):
        """Grade one submission (its TODOs of `only`, default all); a Results. Never raises for a bad or hostile
        submission."""
        start = time.monotonic()
        todos = [t for t in self.todos if only is None or t.id in only]
        try:
            checked = self.check_submission(submission, only, passed)
        except (UnsafeArchiveError, FileNotFoundError, zipfile.BadZipFile) as exc:
            checked = Checked({t.id: [Check("submission", False, f"not graded: {exc}", True)] for t in todos},
                              [f"submission rejected: {exc}"])
        except sandbox.IsolationError:
            raise
        except Exception as exc:  # noqa: BLE001 - the grader must still write a results.json, whatever broke
            print(f"coursekit grade: grader error:\n{traceback.format_exc()}", file=sys.stderr)
            checked = Checked({t.id: [Check("grader", False, "not graded because of a grader error", True)] for t in todos},
                              [f"grader error ({type(exc).__name__}): nothing was graded; tell your instructor"])
        return self.report(todos, checked, time.monotonic() - start)

    def report(self, todos, checked, seconds):
        """The Results of `todos` from a Checked, graded in `seconds`."""
        graded = [self.todo_result(t, checked.by_todo.get(t.id, [])) for t in todos]
        return Results(graded, self.assignment, [self.iso.describe(), *self.base_notes, *checked.notes], seconds,
                       leaderboard(self.cfg, graded), show_total=self.cfg.visibility.show_total)

    def todo_result(self, todo, checks):
        """The TodoResult of `todo` from its checks' outcomes ([Check])."""
        found = [dataclasses.replace(c, public=todo.is_notebook or c.public or (todo.id, c.name) in self.public)
                 for c in checks]
        measured = next((c.info for c in checks if c.passed and c.info), None)
        return TodoResult(todo.id, todo.points, found, todo.visibility, self.fingerprints[todo.id], measured)

    def grade(self, submission):
        """Grade one submission; return the results.json dict. Never raises for a bad or hostile submission."""
        return self.grade_results(submission).to_gradescope()


def write_results(path, results):
    atomic_write_text(path, json.dumps(results, indent=2) + "\n")


def main(options):
    """Grade `options.submission` into `options.results` (options.GradeOptions). With `options.todos`: grade only
    those TODO ids and take the others from the results.json `options.previous` (a regrade)."""
    o = options
    results_path = Path(o.results)
    # Nothing the grader writes (results, unpacked submissions, run folders before they are sealed) may be
    # readable by a worker uid, whatever the caller's umask (sandbox/isolation.py's rules).
    os.umask(0o077)
    try:
        ref = Reference(o.root, o.config)
        assignment = o.assignment or detect_assignment(ref.config, o.submission)
        small = container.too_small(ref.config, assignment, o.notebooks)
        if small:
            write_results(results_path, Results.failed(small).to_gradescope())
            print(f"coursekit grade: error: {small}", file=sys.stderr)
            return 2
        old = regrade.load_previous(o.previous) if o.todos else None
        with Grader(ref, assignment, notebooks=o.notebooks, isolation=o.isolation, require_isolation=o.require_isolation,
                    jobs=o.jobs, base=o.base, test_timeout=o.test_timeout, worker_python=o.worker_python,
                    worker_uid_base=o.worker_uid_base) as grader:
            passed = {t.id: t.status == "passed" for t in old.todos} if old is not None else None
            outcome = grader.grade_results(o.submission, only=set(o.todos) if o.todos else None, passed=passed)
            if old is not None:
                regrade.merge(outcome, old, ref.config, assignment, grader.fingerprints)
                outcome.leaderboard = leaderboard(ref.config, outcome.todos)
    except Exception as exc:  # noqa: BLE001 - a config, set-up or isolation error: still hand over a valid result
        write_results(results_path, Results.failed(f"grader error, nothing was graded: {exc}").to_gradescope())
        print(f"coursekit grade: error: {exc}", file=sys.stderr)
        return 2
    write_results(results_path, outcome.to_gradescope())
    print(f"{o.submission}: {outcome.score:g} / {outcome.max_score:g} -> {results_path}")
    print(outcome.notes[0])
    # Why nothing was graded belongs on the terminal too, not only in results.json: without it a rejected
    # submission reads as a grader that failed every TODO.
    print(*(n for n in outcome.notes[1:] if n.startswith(("submission rejected:", "grader error ("))), sep="\n")
    for todo in outcome.todos:
        print(f"  {todo.status:6}  {todo.score:g}/{todo.points:g}  {todo.label}")
    return 0
