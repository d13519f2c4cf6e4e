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
  stub that asks the grader to run the reference (session.py), so each TODO's points depend on it alone.
  The channel never serves the reference of a TODO under test. TODOs that call each other (a cycle, which
  would let two TODOs that only call each other earn both their points) are checked again with the
  submission's code for the whole cycle. A module that fails to import costs only its own TODOs.
- The hidden checks (hidden.py; instructor/hidden_tests) run here, in the grader: they send inputs they
  made, get back plain data (JSON and raw array bytes, validated; never pickle) and compare it with values
  they compute with the reference package. Nothing a worker sends can be anything but data.
- Notebook TODOs are scored by the model file their graded cell saved, rebuilt and measured here on the
  grader's own data (models.py). Printed text earns nothing. `--notebooks` re-executes the notebooks with
  nbval in the sandbox (time-capped) and reports the outcome without points.
- Why not PrairieLearn's pytest-prairielearn-grader, whose design this follows (tests in the grader, student
  code in a subprocess behind a Unix socket, privilege dropping, timeouts): its worker returns values
  serialized with dill, which the grader unpickles, so a returned object can run code in the grader; its
  import and builtin restrictions are in-process and would block the numpy code students must write; it
  has no per-TODO reference stubs, no handles for objects that stay in the worker, and no mount, PID or
  network isolation. Here the channel carries JSON and raw array bytes only, and isolation is the
  operating system's (sandbox.py).
- results.json is written in every case, by the grader only: per TODO its checks' names and messages
  (which name the function and what was wrong, never hidden inputs, expected values or check source),
  and in `output` the isolation mode that ran.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import hidden, models, sandbox, session
from .config import ConfigError
from .fsutil import UnsafeArchiveError, atomic_write_text, copy_tree_no_symlinks, safe_extract
from .reference import Reference, is_junk
from .release import build_kit

MAX_OUTPUT_PER_TODO = 6000


@dataclass
class Result:
    name: str
    passed: bool
    message: str = ""


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

    def _groups(self):
        groups = {}
        for spec in self.checks:
            groups.setdefault((spec.todo, spec.uses), []).append(spec)
        return groups

    def _start(self, run, todo_id, uses):
        """A worker for `todo_id` (+ `uses` kept as the student's); (worker, error message or '')."""
        todo = self.cfg.todo(todo_id)
        student = {todo_id, *uses}
        callbacks = [(t.id, t.module, t.name) for t in self.code_todos if t.id not in student]
        modules = sorted({t.module for t in self.code_todos})
        reference = session.ReferenceProcess(self.ref.root, self.cfg.path, self.limits.memory_mb)
        worker = session.Worker(run, {i for i, _, _ in callbacks}, reference, timeout=self.timeout)
        try:
            report = worker.request("setup", {
                "package": self.package, "sub": run.path("sub"), "fallback": run.path("fallback"),
                "modules": modules, "todo_module": todo.module, "callbacks": callbacks,
            }, timeout=max(self.timeout, 60))
        except session.WorkerError as exc:
            worker.close()
            return None, f"the submission's package could not be loaded: {exc}"
        notes = []
        for module, status in sorted(report.items()):
            path = module.replace(".", "/") + ".py"
            if module == todo.module and status.get("status") == "broken":
                worker.close()
                return None, f"{path} does not import: {status.get('error')}"
            notes.append(f"{path} does not import ({status.get('error')}): its TODOs score 0; the release copy "
                         "stood in for it while the other TODOs were checked")
        return worker, "\n".join(notes)

    def _run_group(self, run, key, specs, notes, lock, deadline):
        """Run the checks `specs` of one (TODO, uses) key; (todo id, results, TODOs whose reference it called).

        No check starts after `deadline`: a submission whose every TODO loops still gets its results.json in
        bounded time."""
        todo_id, uses = key
        function = self.cfg.todo(todo_id).function
        todos = [(t.id, t.module, t.name) for t in self.code_todos]
        results, called = [], set()
        worker = None
        for spec in specs:
            if time.monotonic() > deadline:
                results.append(Result(spec.name, False, f"not run: the checks of this submission used up their "
                                                        f"{self.limits.grade_timeout} s (code that ran too long)"))
                continue
            if worker is None or worker.dead:
                if worker is not None:
                    called |= worker.called
                worker, message = self._start(run, todo_id, uses)
                if message:
                    with lock:
                        notes.extend(m for m in message.splitlines() if m not in notes)
                if worker is None:
                    results.append(Result(spec.name, False, message))
                    continue
            tester = hidden.Tester(worker, package=self.package, reference_name=self.reference_name,
                                   modules=self.modules, timeout=spec.timeout or self.timeout, todos=todos)
            results.append(self._run_check(spec, tester, function))
        if worker is not None:
            called |= worker.called
            worker.close()
        return todo_id, results, called

    def _run_check(self, spec, tester, function):
        try:
            spec.func(tester)
        except hidden.CheckFailed as exc:
            return Result(spec.name, False, str(exc) or "check failed")
        except session.StudentError as exc:
            return Result(spec.name, False, f"{function} {exc}")
        except session.CallTimeout as exc:
            if str(exc):
                return Result(spec.name, False, f"{function}: {exc}")
            return Result(spec.name, False, f"{function} did not return within {tester._timeout:g} s (an endless loop?); "
                                            "its process was stopped")
        except session.WorkerDied as exc:
            return Result(spec.name, False, f"while checking {function}: {exc}")
        except session.BadReturn as exc:
            return Result(spec.name, False, f"{function} {exc}")
        except AssertionError as exc:
            return Result(spec.name, False, str(exc) or "check failed")
        except Exception as exc:  # noqa: BLE001 - a fault of the check or the reference, not the student's
            print(f"coursekit grade: check {spec.name} failed inside the grader:\n{traceback.format_exc()}", file=sys.stderr)
            return Result(spec.name, False, f"the check could not run ({type(exc).__name__}); tell your instructor")
        return Result(spec.name, True)

    def _run_groups(self, run, groups, notes, deadline):
        """{todo id: [Result]} and {todo id: TODOs whose reference its checks called} for `groups`."""
        lock = threading.Lock()
        by_todo, calls = {}, {}
        # The uid mode kills every process of the run's uid between workers: one worker at a time there.
        jobs = 1 if self.iso.mode == "uid" else self.jobs
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(self._run_group, run, key, specs, notes, lock, deadline) for key, specs in groups.items()]
            for future in futures:
                todo_id, results, called = future.result()
                by_todo.setdefault(todo_id, []).extend(results)
                calls.setdefault(todo_id, set()).update(called)
        return by_todo, calls

    def _check_code(self, run, notes):
        by_todo = {t.id: [] for t in self.code_todos}
        deadline = time.monotonic() + self.limits.grade_timeout
        found, calls = self._run_groups(run, self._groups(), notes, deadline)
        by_todo.update(found)
        # Each TODO is checked with the reference for the other TODOs it calls. TODOs that call each other
        # (A calls B, B calls A) would then each be checked on the other's reference, and two that only call
        # each other would earn both their points with neither written. So the TODOs of such a cycle are
        # checked again with the submission's own code for every TODO of the cycle, as they really run.
        cycles = _call_cycles(calls)
        if cycles:
            regroup = {}
            for cycle in cycles:
                names = ", ".join(self.cfg.todo(t).function for t in sorted(cycle))
                notes.append(f"{names} call each other: each was checked with your code for all of them")
                for (todo_id, uses), specs in self._groups().items():
                    if todo_id in cycle:
                        regroup[(todo_id, tuple(sorted(set(uses) | (cycle - {todo_id}))))] = specs
            again, _ = self._run_groups(run, regroup, notes, deadline)
            by_todo.update(again)
        return by_todo

    # -- notebooks ----------------------------------------------------------------------------------

    def _check_models(self, sub_root):
        by_todo = {}
        for todo in self.todos:
            if todo.is_notebook:
                by_todo[todo.id] = [models.Result(r.name, r.passed, r.message) for r in
                                    models.grade_model(todo, sub_root, self.reference_name, self.data)]
        return by_todo

    def _cell_notes(self, sub_root):
        notes = []
        for todo in self.todos:
            if todo.is_notebook:
                path = sub_root / Path(todo.path).name
                if path.is_file():
                    notes.append(models.find_graded_cell(path, todo.name))
        return notes

    def _rerun_notebooks(self, run, sub_root):
        """nbval over the submitted notebooks in the sandbox; (result line, ok) — informational only."""
        names = [n for n in self.notebook_names if (sub_root / n).is_file()]
        if not names:
            return "no notebooks to re-run", False
        work = run.dir / "nb"
        shutil.copytree(run.dir / "sub", work, dirs_exist_ok=True)
        for name in names:
            shutil.copyfile(sub_root / name, work / name)
        if run.uid is not None:
            for path, dirs, files in os.walk(work):
                for name in [*dirs, *files]:
                    os.chown(os.path.join(path, name), run.uid, run.uid, follow_symlinks=False)
            os.chown(work, run.uid, run.uid)
        argv = [self.iso.python, "-I", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "nbval.plugin",
                "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={self.limits.notebook_cell_timeout}",
                "--rootdir", str(work), *names]
        env = run.env({"CS231N_DATASET": os.environ.get("CS231N_DATASET", "fashion_mnist"), "CS231N_STRICT_CHECKS": "1"})
        data_dirs = [d for d in self._data_dirs() if not str(d).startswith("/usr/")]
        if data_dirs:
            env["CS231N_DATA_DIR"] = str(data_dirs[0])
        proc = run.spawn(argv, cwd=str(work), env=env, ro_extra=data_dirs, rw_extra=[work], stdout_to_stderr=True,
                         timeout_cpu=self.limits.notebook_timeout)
        try:
            proc.wait(timeout=self.limits.notebook_timeout)
        except subprocess.TimeoutExpired:
            run.stop(proc)
            return f"notebooks re-run: stopped after {self.limits.notebook_timeout} s", False
        tail = proc.stderr_tail.text()
        if proc.returncode == 71 and "coursekit.jail:" in tail:
            return f"notebooks re-run: the sandbox could not start ({tail.strip().splitlines()[-1]})", False
        summary = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?) in [\d.]+s", tail, flags=re.M)
        line = summary[-1] if summary else f"exit code {proc.returncode}"
        return f"notebooks re-run with nbval (no points): {line}", proc.returncode == 0

    def _data_dirs(self):
        data_utils = __import__(f"{self.reference_name}.data_utils", fromlist=["_"])
        dirs = []
        for dataset in ("fashion_mnist", "cifar10", "mnist"):
            try:
                found = data_utils._find_dir(dataset)
            except (FileNotFoundError, ValueError):
                continue
            if found and Path(found).is_dir():
                dirs.append(Path(found).resolve())
        return dirs

    # -- the whole grade ------------------------------------------------------------------------------

    def _private_paths(self):
        return [self.ref.root / self.cfg.path.relative_to(self.ref.root), self.ref.root / self.cfg.hidden_tests,
                self.ref.package_dir]

    def check_submission(self, submission):
        """{todo id: [Result]} and notes for one submission (zip or folder). Raises on an unusable one."""
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
            # One uid per worker that may run at once (namespaces mode): see sandbox.Run's lanes.
            lanes = self.jobs if self.iso.mode == "namespaces" else 1
            with sandbox.uid_slots(self.iso, lanes) as uids:
                uid = uids[0]
                if self.iso.mode == "uid":
                    leaks = sandbox.readable_by(uid, self._private_paths())
                    if leaks:
                        raise sandbox.IsolationError(
                            f"uid {uid} can read {', '.join(leaks)}: make the reference tree readable by root only "
                            "(chmod -R go-rwx) before grading in the uid mode"
                        )
                run = sandbox.Run(self.iso, uid, sandbox.Limits(memory_mb=self.limits.memory_mb), lane_uids=uids[1:])
                try:
                    notes += self._assemble(sub_root, run)
                    if self.notebooks:
                        (run.dir / "nb").mkdir()
                    run.seal()
                    by_todo = self._check_code(run, notes)
                    if self.notebooks:
                        notes.append(self._rerun_notebooks(run, sub_root)[0])
                finally:
                    run.close()
            by_todo.update(self._check_models(sub_root))
            notes += self._cell_notes(sub_root)
        return by_todo, notes

    def _test_entry(self, todo, results):
        passed = sum(r.passed for r in results)
        score = round(todo.points * passed / len(results), 2) if results else 0.0
        lines = [f"{passed}/{len(results)} checks passed"]
        lines += [f"{'✓' if r.passed else '✗'} {r.name}" + ("" if r.passed else f": {r.message}") for r in results]
        output = "\n".join(lines)
        if len(output) > MAX_OUTPUT_PER_TODO:
            output = output[:MAX_OUTPUT_PER_TODO] + "\n[... cut ...]"
        return {
            "name": _friendly(todo),
            "score": score,
            "max_score": todo.points,
            "status": "passed" if results and passed == len(results) else "failed",
            "output": output,
            "visibility": "visible",
        }

    def grade(self, submission):
        """Grade one submission; return the results.json dict. Never raises for a bad or hostile submission."""
        start = time.monotonic()
        notes = list(self.base_notes)
        try:
            by_todo, more = self.check_submission(submission)
            notes += more
        except (UnsafeArchiveError, FileNotFoundError, zipfile.BadZipFile) as exc:
            notes.append(f"submission rejected: {exc}")
            by_todo = {t.id: [Result("submission", False, f"not graded: {exc}")] for t in self.todos}
        except sandbox.IsolationError:
            raise
        except Exception as exc:  # noqa: BLE001 - the grader must still write a results.json, whatever broke
            print(f"coursekit grade: grader error:\n{traceback.format_exc()}", file=sys.stderr)
            notes.append(f"grader error ({type(exc).__name__}): nothing was graded; tell your instructor")
            by_todo = {t.id: [Result("grader", False, "not graded because of a grader error")] for t in self.todos}
        tests = [self._test_entry(t, by_todo.get(t.id, [])) for t in self.todos]
        score = round(sum(t["score"] for t in tests), 2)
        max_score = sum(t["max_score"] for t in tests)
        summary = [f"{self.assignment}: {score:g} / {max_score:g} points", self.iso.describe(), *notes]
        return {
            "score": score,
            "execution_time": round(time.monotonic() - start, 1),
            "output": "\n".join(summary),
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests,
        }


def _call_cycles(calls):
    """The sets of two or more TODOs that reach each other through `calls` ({todo: TODOs it called})."""
    def reach(start):
        seen, stack = set(), [start]
        while stack:
            for nxt in calls.get(stack.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    reachable = {node: reach(node) for node in calls}
    cycles = []
    for node in sorted(calls):
        cycle = frozenset({node} | {other for other in reachable[node] if node in reachable.get(other, ())})
        if len(cycle) > 1 and cycle not in cycles:
            cycles.append(cycle)
    return cycles


def write_results(path, results):
    atomic_write_text(path, json.dumps(results, indent=2) + "\n")


def detect_assignment(cfg, submission):
    """The assignment a submission belongs to: from the notebooks it holds, else from its name (a1_..., a2_...)."""
    submission = Path(submission)
    names = set()
    if submission.is_dir():
        names = {p.name for p in submission.rglob("*.ipynb")}
    elif submission.is_file():
        try:
            with zipfile.ZipFile(submission) as zf:
                names = {Path(n).name for n in zf.namelist() if n.endswith(".ipynb")}
        except zipfile.BadZipFile:
            names = set()
    for assignment, notebooks in cfg.assignments.items():
        if names & set(notebooks):
            return assignment
    stem = submission.name.lower()
    for assignment in cfg.assignments:
        digits = "".join(ch for ch in assignment if ch.isdigit())
        if stem.startswith((f"a{digits}_", f"a{digits}-", assignment)):
            return assignment
    if len(cfg.assignments) == 1:
        return next(iter(cfg.assignments))
    raise ValueError(f"cannot tell which assignment {submission} is for; pass --assignment")


def _failed_results(message):
    return {"score": 0.0, "execution_time": 0.0, "output": message, "visibility": "visible",
            "stdout_visibility": "hidden", "tests": []}


def main(*, submission, results="results.json", root=None, config=None, assignment=None, notebooks=False,
         isolation="auto", require_isolation=False, jobs=2, base=None, test_timeout=None, worker_python=None,
         worker_uid_base=sandbox.DEFAULT_UID_BASE):
    results_path = Path(results)
    # Nothing the grader writes (results, unpacked submissions, run folders before they are sealed) may be
    # readable by a worker uid, whatever the caller's umask (sandbox.py's rules).
    os.umask(0o077)
    try:
        ref = Reference(root, config)
        assignment = assignment or detect_assignment(ref.config, submission)
        with Grader(ref, assignment, notebooks=notebooks, isolation=isolation, require_isolation=require_isolation,
                    jobs=jobs, base=base, test_timeout=test_timeout, worker_python=worker_python,
                    worker_uid_base=worker_uid_base) as grader:
            outcome = grader.grade(submission)
    except Exception as exc:  # noqa: BLE001 - a config, set-up or isolation error: still hand over a valid result
        write_results(results_path, _failed_results(f"grader error, nothing was graded: {exc}"))
        print(f"coursekit grade: error: {exc}", file=sys.stderr)
        return 2
    write_results(results_path, outcome)
    max_score = sum(t["max_score"] for t in outcome["tests"])
    print(f"{submission}: {outcome['score']:g} / {max_score:g} -> {results_path}")
    print(outcome["output"].splitlines()[1])
    for test in outcome["tests"]:
        print(f"  {test['status']:6}  {test['score']:g}/{test['max_score']:g}  {test['name']}")
    return 0
