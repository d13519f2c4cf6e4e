"""`coursekit grade SUBMISSION`: grade one submission (zip or folder) and write a Gradescope results.json.

One rule shapes the design: the code that decides a score never shares a process, a user or a writable
file with student code.

- The submission is unpacked (no absolute paths, `..`, symlinks or oversized archives) into a folder of
  the grader's. Its package is assembled for grading: the student's .py files over the release's stubbed
  package (a missing file is graded as its stub), with the `given` infrastructure files and the Cython
  extension always the reference's. The student's own helpers (a function added to layer_utils.py, a
  new module) stay.
- Student code runs only in workers (worker.py), started in the sandbox (sandbox.py: namespaces, uid or
  none). A worker serves one TODO: that TODO is the student's code, every other TODO of the assignment a
  stub that asks the grader to run the reference (session.py), so each code TODO's points depend on it alone.
  The channel never serves the reference of a TODO under test. TODOs that call each other (a cycle, which
  would let two TODOs that only call each other earn both their points) are checked again with the
  submission's code for the whole cycle. A module that fails to import costs only its own TODOs.
- The hidden checks (hidden.py; instructor/hidden_tests) run here, in the grader: they send inputs they
  made, get back plain data (JSON and raw array bytes, validated; never pickle) and compare it with values
  they compute with the reference package. Nothing a worker sends can be anything but data.
- Notebook TODOs are scored by the model file their graded cell saved, read with bounded memory, rebuilt
  and measured here on the grader's own data; the submission's own class, in a worker where every code
  TODO is the submission's, must reproduce it, so a notebook TODO also needs the code its model's forward
  pass runs (models.py says what a notebook point certifies). Printed text earns nothing. `--notebooks`
  re-executes the notebooks with nbval in the sandbox (time-capped) and reports the outcome without points.
- Why not PrairieLearn's pytest-prairielearn-grader, whose design this follows (tests in the grader, student
  code in a subprocess behind a Unix socket, privilege dropping, timeouts): its worker returns values
  serialized with dill, which the grader unpickles, so a returned object can run code in the grader; its
  import and builtin restrictions are in-process and would block the numpy code students must write; it
  has no per-TODO reference stubs, no handles for objects that stay in the worker, and no mount, PID or
  network isolation. Here the channel carries JSON and raw array bytes only, and isolation is the
  operating system's (sandbox.py).
- results.json is written in every case, by the grader only: per TODO its checks' names and messages
  (which name the function and what was wrong, never hidden inputs, expected values or check source),
  and in `output` the isolation mode that ran; results.py decides what a student sees of it, and when
  (grading.toml [visibility]). A container with less memory than the assignment needs grades nothing and
  says so (container.py). `--todos` with `--previous` grades some TODOs and keeps the others' results (a
  regrade: regrade.py).
"""

import dataclasses
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import container, expected, feedback, hidden, models, regrade, rerun, sandbox, secret, session
from .config import ConfigError
from .fsutil import UnsafeArchiveError, atomic_write_text, copy_tree_no_symlinks, safe_extract
from .identify import detect_assignment
from .protocol import Op
from .reference import Reference, is_junk
from .release import build_kit
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


def _friendly(todo):
    return f"{todo.name} ({todo.path})"


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

    # -- the submission -------------------------------------------------------------------------

    def _locate(self, unpacked):
        """The folder of the submission that holds the package or the notebooks (a zip may nest it)."""
        candidates = [unpacked] + sorted(
            (p for p in unpacked.rglob("*") if p.is_dir() and len(p.relative_to(unpacked).parts) <= 3),
            key=lambda p: len(p.parts),
        )
        for cand in candidates:
            if (cand / self.package).is_dir() or any((cand / nb).is_file() for nb in self.notebook_names):
                return cand
        raise FileNotFoundError(
            f"the submission holds neither a {self.package}/ folder nor any of {', '.join(self.notebook_names)}; "
            "make it with ./collectSubmission.sh"
        )

    def _assemble(self, sub_root, run):
        """Fill the run's sub/ (graded package), fallback/ (release package) and runtime/ folders."""
        notes = []
        shutil.copytree(self.base / self.package, run.dir / "fallback" / self.package)
        shutil.copytree(self.base / self.package, run.dir / "sub" / self.package)
        session.install_runtime(run.dir / "runtime")
        given = set(self.cfg.given)
        student_pkg = sub_root / self.package
        taken, ignored = [], []
        if student_pkg.is_dir():
            for path in sorted(student_pkg.rglob("*.py")):
                rel = path.relative_to(sub_root)
                if is_junk(rel) or "datasets" in rel.parts:
                    continue
                if rel.as_posix() in given:
                    ignored.append(rel.as_posix())
                    continue
                target = run.dir / "sub" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                taken.append(rel.as_posix())
        todo_files = sorted({t.path for t in self.code_todos})
        for rel in todo_files:
            if rel not in taken:
                notes.append(f"{rel} is not in the submission: its TODOs are graded as the unimplemented stubs")
        if ignored:
            notes.append(f"given files always come from the course, not the submission: {', '.join(ignored)}")
        return notes

    # -- code TODOs ---------------------------------------------------------------------------------

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

    def _start(self, run, todo_id, uses, stand_ins=False):
        """A worker for `todo_id` (+ `uses` kept as the student's); (worker, error message or '').

        The reference answers the calls the reference of those TODOs makes itself (see _settle). Given code that
        can do the work of a TODO under test (grading.toml `stand_ins`) is disabled in it, unless `stand_ins`
        (the notebook models run the fast layers beside the naive ones they are no check of)."""
        todo = self.cfg.todo(todo_id)
        student = {todo_id, *uses}
        callbacks = [(t.id, t.module, t.name) for t in self.code_todos if t.id not in student]
        disabled = [] if stand_ins else sorted({(stand_in, self.cfg.todo(t).function) for t in student
                                                for stand_in in self.cfg.todo(t).stand_ins})
        modules = sorted({t.module for t in self.code_todos})
        reference = session.ReferenceProcess(self.ref.root, self.cfg.path, self.limits.memory_mb)
        answered = set().union(*(self.expected[t] for t in student))
        worker = session.RunningWorker(run, {i for i, _, _ in callbacks}, reference, timeout=self.timeout, answered=answered)
        try:
            report = worker.request(Op.SETUP, {
                "package": self.package, "sub": run.path("sub"), "fallback": run.path("fallback"),
                "modules": modules, "todo_module": todo.module, "callbacks": callbacks,
                "disabled": [[_module_of(path), name, by] for path, by in disabled for name in [path.split("::")[1]]],
            }, timeout=max(self.timeout, 60))
        except session.WorkerError as exc:
            worker.close()
            return None, f"the submission's package could not be loaded: {exc}"
        notes = []
        for module, status in sorted(report.items()):
            path = feedback.clean(module.replace(".", "/") + ".py", feedback.MAX_PATH)
            error = _import_error(status)
            if module == todo.module and status.get("status") == "broken":
                worker.close()
                return None, f"{path} does not import: {error}"
            notes.append(f"{path} does not import ({error}): its TODOs score 0; the release copy "
                         "stood in for it while the other TODOs were checked")
        return worker, "\n".join(notes)

    def _run_group(self, run, key, specs, notes, lock, deadline):
        """Run the checks `specs` of one (TODO, uses) key; (results, TODOs whose reference the code called).

        No check starts after `deadline`: a submission whose every TODO loops still gets its results.json in
        bounded time."""
        todo_id, uses = key
        function = self.cfg.todo(todo_id).function
        todos = [(t.id, t.module, t.name) for t in self.code_todos]
        results, called = [], set()
        worker = None
        for spec in specs:
            if time.monotonic() > deadline:
                results.append(Check(spec.name, False, f"not run: the checks of this submission used up their "
                                                        f"{self.limits.grade_timeout} s (code that ran too long)", True))
                continue
            if worker is None or worker.dead:
                if worker is not None:
                    called |= worker.called
                worker, message = self._start(run, todo_id, uses)
                if message:
                    with lock:
                        notes.extend(m for m in message.splitlines() if m not in notes)
                if worker is None:
                    results.append(Check(spec.name, False, message, True))
                    continue
            tester = hidden.Tester(worker, package=self.package, reference_name=self.reference_name,
                                   modules=self.modules, timeout=spec.timeout or self.timeout, todos=todos,
                                   salt=secret.submission_salt(run.dir / "sub"), check=f"{spec.todo}::{spec.name}")
            results.append(self._run_check(spec, tester, function))
        if worker is not None:
            called |= worker.called
            worker.close()
        return results, called

    def _run_check(self, spec, tester, function):
        try:
            spec.func(tester)
        except hidden.CheckFailed as exc:
            return Check(spec.name, False, str(exc) or "check failed")
        except session.StudentError as exc:
            return Check(spec.name, False, f"{function} {exc}")
        except session.CallTimeout as exc:
            if str(exc):
                return Check(spec.name, False, f"{function}: {exc}")
            return Check(spec.name, False, f"{function} did not return within {tester._timeout:g} s (an endless loop?); "
                                            "its process was stopped")
        except session.WorkerDied as exc:
            return Check(spec.name, False, f"while checking {function}: {exc}")
        except session.BadReturn as exc:
            return Check(spec.name, False, f"{function} {exc}")
        except AssertionError as exc:
            return Check(spec.name, False, str(exc) or "check failed")
        except Exception as exc:  # noqa: BLE001 - a fault of the check or the reference, not the student's
            print(f"coursekit grade: check {spec.name} failed inside the grader:\n{traceback.format_exc()}", file=sys.stderr)
            return Check(spec.name, False, f"the check could not run ({type(exc).__name__}); tell your instructor")
        return Check(spec.name, True)

    def _run_groups(self, run, groups, notes, deadline):
        """{key: (results, TODOs whose reference the code called)} for `groups` ({key: [CheckSpec]})."""
        lock = threading.Lock()
        with ThreadPoolExecutor(max_workers=self.iso.concurrency(self.jobs)) as pool:
            futures = {key: pool.submit(self._run_group, run, key, specs, notes, lock, deadline)
                       for key, specs in groups.items()}
            return {key: future.result() for key, future in futures.items()}

    def _settle(self, run, groups, notes, deadline):
        """Run `groups` until no TODO's checks lean on the reference for work that is not its own:
        {key: (key graded last, results, TODOs called)}.

        A TODO is checked with the reference answering for the other TODOs it calls, so its points depend on it
        alone. That holds for the calls its reference makes too (`self.expected`: the course's design). Any
        other call is the TODO handing its own work to another TODO, and the reference must not do that work
        for it: the TODO is checked again with the student's own code for the TODOs it called that way (a
        `batchnorm_backward` returning `batchnorm_backward_alt(...)` is checked with the student's alt; two
        TODOs that only call each other then recurse), until no such call is left."""
        outcome = self._run_groups(run, groups, notes, deadline)
        current = {key: key for key in groups}
        while True:
            again, changed = {}, False
            for origin, key in current.items():
                extra = self._unexpected(key, outcome[key][1])
                if not extra:
                    continue
                changed = True
                new = (key[0], tuple(sorted({*key[1], *extra})))
                current[origin] = new
                todo = self.cfg.todo(key[0])
                for other in sorted(extra):
                    name = self.cfg.todo(other).name
                    note = (f"{todo.name} calls {name}, which the course's {todo.name} does not: {todo.name} was "
                            f"checked with your own {name}")
                    if note not in notes:
                        notes.append(note)
                if new not in outcome:
                    again[new] = groups[origin]
            if again:
                outcome.update(self._run_groups(run, again, notes, deadline))
            if not changed:
                return {origin: (key, *outcome[key]) for origin, key in current.items()}

    def _unexpected(self, key, called):
        """The TODOs of `called` that no TODO of `key` calls in the reference."""
        student = {key[0], *key[1]}
        allowed = set().union(*(self.expected[t] for t in student))
        return set(called) - allowed - student

    def _check_code(self, run, notes, only=None, passed=None):
        """{TODO id: [Check]} of the code TODOs.

        A TODO that fails is checked once more with the student's own code for the TODOs around it that pass all
        their own checks (the other methods of its class, the TODOs it called), and keeps the better outcome: a
        `loss` reading a flag its own `__init__` sets is right with that `__init__`, and a student's own working
        code cannot bring it the reference's answers. A TODO around it that fails costs only its own points.
        `only`, `passed`: check the TODOs of `only`, and take whether the others pass from `passed` ({id: bool},
        their recorded results), so a partial regrade re-checks a TODO with the same helpers a full grade would."""
        deadline = time.monotonic() + self.limits.grade_timeout
        first = self._settle(run, self.groups(only), notes, deadline)
        passes = {t: ok for t, ok in (passed or {}).items() if only is not None and t not in only}
        for (todo_id, _), (_, results, _) in first.items():
            passes[todo_id] = passes.get(todo_id, True) and all(r.passed for r in results)
        retry = {}
        for origin, (key, results, called) in first.items():
            if all(r.passed for r in results):
                continue
            helpers = {t for t in self._siblings(key[0]) | set(called) if passes.get(t)} - {key[0], *key[1]}
            if helpers:
                retry[origin] = (key[0], tuple(sorted({*key[1], *helpers})))
        groups = self.groups(only)
        second = self._settle(run, {new: groups[origin] for origin, new in retry.items()}, notes, deadline) if retry else {}
        by_todo = {t.id: [] for t in self.code_todos if only is None or t.id in only}
        for origin, (_, results, _) in first.items():
            if origin in retry:
                _, better, _ = second[retry[origin]]
                if sum(r.passed for r in better) > sum(r.passed for r in results):
                    results = better
                    helpers = sorted(set(retry[origin][1]) - set(first[origin][0][1]))
                    names = ", ".join(self.cfg.todo(t).name for t in helpers)
                    note = f"{self.cfg.todo(origin[0]).name} was checked with your own {names} (they pass their checks)"
                    if note not in notes:
                        notes.append(note)
            by_todo[origin[0]].extend(results)
        return by_todo

    def _siblings(self, todo_id):
        """The other TODOs that are methods of the same class as `todo_id`."""
        todo = self.cfg.todo(todo_id)
        owner = todo.name.rpartition(".")[0]
        if not owner:
            return set()
        return {t.id for t in self.code_todos if t.path == todo.path and t.name.rpartition(".")[0] == owner} - {todo_id}

    # -- notebooks ----------------------------------------------------------------------------------

    def _check_models(self, run, sub_root, only=None):
        """{todo id: [Check]} of the notebook TODOs (of `only`, default all; models.py); the submission's model
        classes run in a worker where every code TODO is the submission's."""
        workers, deadline = {}, time.monotonic() + self.limits.model_timeout
        todos = [t for t in self.todos if t.is_notebook and (only is None or t.id in only)]
        try:
            return models.grade_models(todos, sub_root, self.reference_name,
                                       self.data, lambda module: self._model_tester(run, module, workers, deadline),
                                       self.code_todos)
        finally:
            for worker in workers.values():
                worker.close()

    def _model_tester(self, run, module, workers, deadline):
        """A Tester on the worker that runs the model class of `module` with every code TODO the submission's
        (one worker at a time: the uid mode stops all processes of the run's uid with each); its timeout
        is what remains of the models' budget."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise models.Rejected(f"not run: the submission's classes used up the {self.limits.model_timeout} s "
                                  "the notebook models have (code that ran too long)")
        worker = workers.get(module)
        if worker is None or worker.dead:
            for other in workers.values():
                other.close()
            workers.clear()
            todo_id = next((t.id for t in self.code_todos if t.module == module), self.code_todos[0].id)
            worker, message = self._start(run, todo_id, tuple(t.id for t in self.code_todos if t.id != todo_id),
                                          stand_ins=True)
            if worker is None:
                raise models.Rejected(message)
            workers[module] = worker
        return hidden.Tester(worker, package=self.package, reference_name=self.reference_name, modules=self.modules,
                             timeout=min(self.timeout, remaining), todos=[(t.id, t.module, t.name) for t in self.code_todos])

    def _cell_notes(self, sub_root):
        notes = []
        for todo in self.todos:
            if todo.is_notebook:
                path = sub_root / Path(todo.path).name
                if path.is_file():
                    notes.append(models.find_graded_cell(path, todo.name))
        return notes

    # -- the whole grade ------------------------------------------------------------------------------

    def _private_paths(self):
        """What a worker uid must not read: the config, the hidden checks, the reference, the grader's secret."""
        return [self.ref.root / self.cfg.path.relative_to(self.ref.root), self.ref.root / self.cfg.hidden_tests,
                self.ref.package_dir, secret.secret_path()]

    def check_submission(self, submission, only=None, passed=None):
        """{todo id: [Check]} and notes for one submission (zip or folder), of the TODOs of `only` (default: all).
        Raises on an unusable one."""
        notes = []
        with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
            unpacked = Path(tmp) / "unpacked"
            unpacked.mkdir()
            submission = Path(submission)
            if submission.is_dir():
                copy_tree_no_symlinks(submission, unpacked)
            elif submission.is_file():
                safe_extract(submission, unpacked)
            else:
                raise FileNotFoundError(f"submission {submission} does not exist")
            sub_root = self._locate(unpacked)
            # A lane (a uid) per worker that may run at once, as the backend allows: see sandbox.Run's lanes.
            with self.iso.slots(self.iso.lanes(self.jobs)) as uids:
                uid = uids[0]
                leaks = self.iso.readable(uids, self._private_paths())
                if leaks:
                    raise sandbox.IsolationError(
                        f"uid {uid} can read {', '.join(leaks)}: make the reference tree readable by root only "
                        f"(chmod -R go-rwx) before grading in the {self.iso.name} mode"
                    )
                run = sandbox.Run(self.iso, uid, sandbox.ProgramLimits(memory_mb=self.limits.memory_mb), lane_uids=uids[1:])
                try:
                    notes += self._assemble(sub_root, run)
                    if self.notebooks:
                        (run.dir / "nb").mkdir()
                    run.seal()
                    by_todo = self._check_code(run, notes, only, passed)
                    by_todo.update(self._check_models(run, sub_root, only))
                    if self.notebooks:
                        notes.append(rerun.rerun_notebooks(run, sub_root, self.notebook_names, self.iso.python, self.limits,
                                                        self.reference_name)[0])
                finally:
                    run.close()
            notes += self._cell_notes(sub_root)
        return by_todo, notes

    def todo_result(self, todo, checks):
        """The TodoResult of `todo` from its checks' outcomes ([Check])."""
        found = [dataclasses.replace(c, public=todo.is_notebook or c.public or (todo.id, c.name) in self.public)
                 for c in checks]
        measured = next((c.info for c in checks if c.passed and c.info), None)
        return TodoResult(todo.id, todo.points, found, todo.visibility, self.fingerprints[todo.id], measured)

    def grade_results(self, submission, only=None, passed=None):
        """Grade one submission (its TODOs of `only`, default all); a Results. Never raises for a bad or hostile
        submission."""
        start = time.monotonic()
        notes = list(self.base_notes)
        todos = [t for t in self.todos if only is None or t.id in only]
        try:
            by_todo, more = self.check_submission(submission, only, passed)
            notes += more
        except (UnsafeArchiveError, FileNotFoundError, zipfile.BadZipFile) as exc:
            notes.append(f"submission rejected: {exc}")
            by_todo = {t.id: [Check("submission", False, f"not graded: {exc}", True)] for t in todos}
        except sandbox.IsolationError:
            raise
        except Exception as exc:  # noqa: BLE001 - the grader must still write a results.json, whatever broke
            print(f"coursekit grade: grader error:\n{traceback.format_exc()}", file=sys.stderr)
            notes.append(f"grader error ({type(exc).__name__}): nothing was graded; tell your instructor")
            by_todo = {t.id: [Check("grader", False, "not graded because of a grader error", True)] for t in todos}
        graded = [self.todo_result(t, by_todo.get(t.id, [])) for t in todos]
        return Results(graded, self.assignment, [self.iso.describe(), *notes], time.monotonic() - start,
                       leaderboard(self.cfg, graded), show_total=self.cfg.visibility.show_total)

    def grade(self, submission):
        """Grade one submission; return the results.json dict. Never raises for a bad or hostile submission."""
        return self.grade_results(submission).to_gradescope()


def _module_of(path):
    """`cs231n.fast_layers` for `cs231n/fast_layers.py::conv_forward_fast`."""
    return path.split("::", 1)[0].removesuffix(".py").replace("/", ".")


def _import_error(status):
    """How a module failed to import, as far as the submission's own text may be shown (feedback.py)."""
    def describe(error):
        if not isinstance(error, dict):
            return "an error"
        text = f"{feedback.exception_type(error.get('type'))}: {feedback.message(error.get('message', ''))}"
        where = feedback.location(error.get("where", ""))
        return f"{text} ({where})" if where else text

    text = describe(status.get("error"))
    if "fallback_error" in status:
        text += f"; its release copy failed too: {describe(status['fallback_error'])}"
    return text


def write_results(path, results):
    atomic_write_text(path, json.dumps(results, indent=2) + "\n")


def main(options):
    """Grade `options.submission` into `options.results` (options.GradeOptions). With `options.todos`: grade only
    those TODO ids and take the others from the results.json `options.previous` (a regrade)."""
    o = options
    results_path = Path(o.results)
    # Nothing the grader writes (results, unpacked submissions, run folders before they are sealed) may be
    # readable by a worker uid, whatever the caller's umask (sandbox.py's rules).
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
    for todo in outcome.todos:
        print(f"  {todo.status:6}  {todo.score:g}/{todo.points:g}  {todo.label}")
    return 0
