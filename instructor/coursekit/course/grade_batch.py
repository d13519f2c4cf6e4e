"""`coursekit grade-batch FOLDER --out DIR`: grade every submission of a folder into per-student results.json
files, one CSV of per-TODO scores and an instructor report (report.py).

- Each submission (a .zip or a folder in FOLDER) is graded by its own `coursekit grade` process, `--jobs` at
  once, so a submission that breaks its grader cannot take the batch down; a process that outlives
  `--timeout` is killed with its process group. The kit they grade in (release + built extension) is built
  once per assignment and handed to each (`--base`): building it costs more than grading.
- Resumable: DIR/<name>.json is written atomically once its grade is complete, and records in its
  `extra_data` what was graded (sha256 of the submission, assignment, notebook setting). A restart skips
  every submission whose results match, so killing the batch at any moment loses only the grades in flight.
  A changed submission is regraded; a grader error (exit code 2, or no results) is kept for the CSV and
  retried by the next run.
- Regrades: each TODO's result records its fingerprint (regrade.py). When grading.toml's points, a TODO's
  hidden checks, its reference code or a notebook threshold changed since a submission was graded, only
  the TODOs that changed are graded again (`coursekit grade --todos`), a change of points alone rescores
  without grading, and OUT/regrades/<time>.md and .csv list per student and TODO the old and new score and
  why. `--only NAME` regrades one submission whole (repeatable).
- When the batch process dies, even by SIGKILL, its grade processes are killed too (PR_SET_PDEATHSIG), so
  no orphan goes on grading beside the restarted batch.
- Classmates stay apart (sandbox/isolation.py's rules). Everything the batch writes is private (umask 077). In the
  uid mode, where a worker sees the machine's processes and files (the grade processes' command lines
  name the submissions and results), the batch refuses to start while a worker uid can read the
  submissions folder, the output folder or anything in them, and says which path and how to fix it. With
  --jobs above 1, submissions graded at once share the CPU by equal cgroup weights; where no cpu cgroup
  can be made the batch warns that a submission's busy loops would slow its neighbour's timed checks.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from ..fsutil import atomic_write_text
from ..grading import regrade
from ..grading.grade import build_base
from ..grading.identify import assignments_of, detect_assignment
from ..grading.options import GradeOptions
from ..grading.results import Results
from ..reference import Reference
from ..sandbox import isolation as sandbox
from ..sandbox.cgroups import cpu_share_bounded
from . import report
from .report import BATCH_KEY

DEFAULT_TIMEOUT = 3600
# Runs each grade process: dies with the batch (PR_SET_PDEATHSIG = 1), or exits if the batch is already gone.
LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "libc = ctypes.CDLL(None)\n"
    "if hasattr(libc, 'prctl'):\n"
    "    libc.prctl(1, signal.SIGKILL, 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def fingerprint(path):
    """sha256 of a submission: the zip's bytes, or the folder's file names and contents."""
    digest = hashlib.sha256()
    path = Path(path)
    if path.is_file():
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    for file in sorted(p for p in path.rglob("*") if p.is_file() or p.is_symlink()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(os.readlink(file).encode() if file.is_symlink() else file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def submissions_in(folder):
    """{name: path} of the submissions in `folder`: a.zip -> a, folder b -> b. Raises on a clash or none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist")
    found = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir() or path.suffix == ".zip":
            name = path.stem if path.suffix == ".zip" else path.name
            if name in found:
                raise ValueError(f"{found[name].name} and {path.name} in {folder} would both be graded as {name!r}; "
                                 "rename one")
            found[name] = path
    if not found:
        raise FileNotFoundError(f"no submission (.zip or folder) in {folder}")
    return found


def batch_assignment(cfg, paths):
    """The assignment of a batch given without --assignment: the one every submission that tells its assignment
    agrees on (a submission holding two assignments' notebooks is graded as that one too); None when they do
    not agree, and then each is graded as its own says."""
    told = {found[0] for found in (assignments_of(cfg, p) for p in paths) if len(found) == 1}
    return told.pop() if len(told) == 1 else None


def finished(results_path, expected):
    """Whether `results_path` holds a completed grade of the submission described by `expected`."""
    try:
        meta = Results.from_gradescope(json.loads(Path(results_path).read_text(encoding="utf-8"))).extra[BATCH_KEY]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return meta.get("status") == "graded" and all(meta.get(k) == v for k, v in expected.items())


class Batch:
    def __init__(self, *, out, timeout, grade_options):
        self.out = Path(out)
        self.timeout = timeout
        self.grade_options = grade_options  # the GradeOptions every submission shares
        self.running = {}  # name -> Popen
        self.lock = threading.Lock()
        self.stopping = False

    def grade(self, name, path, meta, base, todos=()):
        """Grade one submission (only `todos` when given, over its finished results) in its own process; write
        OUT/<name>.json atomically; return its status."""
        tmp = self.out / ".partial" / f"{name}.json"
        tmp.parent.mkdir(exist_ok=True)
        options = dataclasses.replace(self.grade_options, submission=path, results=tmp, assignment=meta["assignment"],
                                      base=base, todos=todos, previous=self.out / f"{name}.json")
        argv = [sys.executable, "-m", "coursekit", *options.argv()]
        start = time.monotonic()
        log_path = self.out / "logs" / f"{name}.log"
        log_path.parent.mkdir(exist_ok=True)
        with log_path.open("w") as log:
            with self.lock:
                if self.stopping:
                    return "cancelled"
                proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(os.getpid()), *argv], stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
                self.running[name] = proc
            try:
                returncode = proc.wait(timeout=self.timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                returncode, timed_out = proc.wait(), True
            finally:
                with self.lock:
                    self.running.pop(name, None)
        if self.stopping and returncode < 0:
            tmp.unlink(missing_ok=True)
            return "cancelled"
        try:
            results = Results.from_gradescope(json.loads(tmp.read_text(encoding="utf-8")), strict=True)
        except (OSError, ValueError):
            results = None
        tmp.unlink(missing_ok=True)
        if timed_out:
            status = "error"
            results = Results.failed(f"grader killed after the batch timeout ({self.timeout} s)")
        elif results is None:
            status = "error"
            results = Results.failed(f"the grader wrote no results.json (exit code {returncode}); see {log_path}")
        else:
            status = "graded" if returncode == 0 else "error"
        results.extra[BATCH_KEY] = {**meta, "status": status, "exit_code": returncode,
                                    "seconds": round(time.monotonic() - start, 1)}
        atomic_write_text(self.out / f"{name}.json", json.dumps(results.to_gradescope(), indent=2) + "\n")
        return status

    def stop(self):
        with self.lock:
            self.stopping = True
            for proc in self.running.values():
                _kill_group(proc)


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _build_bases(ref, assignments, folder):
    """{assignment: kit} built once for the whole batch (the extension compiles once, not per submission)."""
    kits = {}
    for assignment in assignments:
        kits[assignment] = folder / assignment / "kit"
        for note in build_base(ref, assignment, kits[assignment]):
            print(f"{assignment}: {note}", file=sys.stderr)
    return kits


class Plan:
    """What a batch run does: `grade` [(name, path, meta, TODOs or () for all)], how many it skips, and for each
    submission graded before, its previous Results and why it is graded again (for the regrade diff)."""

    def __init__(self):
        self.grade, self.skipped, self.before, self.rows, self.rescored = [], 0, {}, [], 0
        self.fingerprints = {}

    def fps(self, ref, assignment):
        if assignment not in self.fingerprints:
            self.fingerprints[assignment] = regrade.fingerprints(ref, assignment)
        return self.fingerprints[assignment]

    def add(self, ref, out, name, path, meta, forced):
        results_path = out / f"{name}.json"
        previous = regrade.load(results_path)
        graded_before = previous is not None and finished(results_path, {"assignment": meta["assignment"]})
        if forced or not finished(results_path, meta):
            self.grade.append((name, path, meta, ()))
            if graded_before:
                why = "regraded alone (--only)" if forced else "the submission or its settings changed"
                self.before[name] = (previous, {t.id: why for t in previous.todos} | {"": why})
            return
        fps = self.fps(ref, meta["assignment"])
        reasons = regrade.changes(previous, fps)
        todos = regrade.needs_grading(reasons)
        if todos:
            self.grade.append((name, path, meta, tuple(todos)))
            self.before[name] = (previous, reasons)
        elif reasons:
            now = regrade.rescore(previous, ref.config, meta["assignment"], fps)
            atomic_write_text(results_path, json.dumps(now.to_gradescope(), indent=2) + "\n")
            self.rows += regrade.diff_rows(name, meta["assignment"], previous, now, reasons)
            self.rescored += 1
        else:
            self.skipped += 1


def plan(ref, subs, out, assignment, notebooks, only):
    """The Plan of a batch over `subs` ({name: path}); `only`: names regraded whole, the others left alone."""
    unknown = sorted(set(only or ()) - set(subs))
    if unknown:
        raise ValueError(f"--only {', '.join(unknown)}: no such submission (known: {', '.join(sorted(subs))})")
    todo = Plan()
    for name, path in subs.items():
        if only and name not in only:
            continue
        meta = {"submission": path.name, "sha256": fingerprint(path), "notebooks": notebooks}
        try:
            meta["assignment"] = assignment or detect_assignment(ref.config, path)
        except ValueError as exc:
            meta["assignment"] = ""
            results = Results.failed(f"not graded: {exc}").to_gradescope()
            results["extra_data"] = {BATCH_KEY: {**meta, "status": "error", "exit_code": None, "seconds": 0.0}}
            atomic_write_text(out / f"{name}.json", json.dumps(results, indent=2) + "\n")
            continue
        todo.add(ref, out, name, path, meta, bool(only))
    return todo


def _regrade_diff(todo, out):
    """Write the diff of the submissions graded before (regrade.write_diff); its path, or None."""
    rows = list(todo.rows)
    for name, (previous, reasons) in todo.before.items():
        after = regrade.load(out / f"{name}.json")
        if after is not None and finished(out / f"{name}.json", {}):
            why = {t.id: reasons.get(t.id, reasons.get("", "regraded")) for t in after.todos}
            rows += regrade.diff_rows(name, after.assignment, previous, after, why)
    if not todo.before and not todo.rescored:
        return None
    return regrade.write_diff(out, rows, len(todo.before) + todo.rescored, time.strftime("%Y%m%d-%H%M%S"))


def readable_paths(folder, out, subs, iso):
    """The paths among the submissions folder, the output folder and everything in them that a worker uid of
    the backend `iso` (any of its slots) can list or open."""

    def paths():  # walked only by a backend whose workers see the machine's files
        yield from (Path(folder), Path(out))
        for top in (Path(out), *subs.values()):
            yield top
            if top.is_dir():
                yield from top.rglob("*")

    return iso.readable(range(iso.uid_base, iso.uid_base + sandbox.SLOTS), paths())


def preflight(folder, out, subs, *, isolation, require_isolation, worker_python, worker_uid_base, jobs):
    """Refuse a batch whose workers could read a classmate's submission or grade (uid mode); warn when the
    CPU of submissions graded at once cannot be shared fairly. See the module's docstring."""
    if os.geteuid() != 0:
        return
    base = worker_uid_base or sandbox.DEFAULT_UID_BASE
    try:
        iso = sandbox.detect(isolation or "auto", require=require_isolation, python=worker_python, uid_base=base)
    except sandbox.IsolationError:
        return  # each grade process says why it cannot grade, in its results
    found = readable_paths(folder, out, subs, iso)
    if found:
        shown = ", ".join(map(str, found[:5])) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        raise sandbox.IsolationError(
            f"a worker uid of the {iso.name} mode can read {shown}: a submission's code could read its classmates' "
            f"code and grades. Make them readable by root only (chmod -R go-rwx {folder} {out}) and grade again")
    if jobs > 1 and iso.cgroups and not cpu_share_bounded():
        print(f"warning: no cpu cgroup can be made here, so the {jobs} submissions graded at once share the CPU "
              "by their processes: one that runs many busy processes slows its neighbours' timed checks. "
              "Grade with --jobs 1 for a fair share (Gradescope grades one submission per container).",
              file=sys.stderr)


def main(**kwargs):
    # Results, logs, scores and report are private whatever the caller's umask (the module's docstring).
    umask = os.umask(0o077)
    try:
        return _main(**kwargs)
    finally:
        os.umask(umask)


def _main(*, folder, out="build/grades", csv_path=None, jobs=2, assignment=None, notebooks=False, timeout=DEFAULT_TIMEOUT,
          root=None, config=None, isolation=None, require_isolation=False, worker_python=None, worker_uid_base=None,
          only=None):
    ref = Reference(root, config)
    subs = submissions_in(folder)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, not {jobs}")
    preflight(folder, out, subs, isolation=isolation, require_isolation=require_isolation,
              worker_python=worker_python, worker_uid_base=worker_uid_base, jobs=jobs)
    if assignment and assignment not in ref.config.assignments:
        raise ValueError(f"unknown assignment {assignment!r}; known: {', '.join(ref.config.assignments)}")
    assignment = assignment or batch_assignment(ref.config, subs.values())
    todo = plan(ref, subs, out, assignment, notebooks, only)
    parts = sum(bool(t) for *_, t in todo.grade)
    print(f"{len(subs)} submissions: {todo.skipped} already graded, {len(todo.grade)} to grade with {jobs} job(s)"
          + (f" ({parts} of them only the TODOs that changed)" if parts else "")
          + (f", {todo.rescored} rescored for new points" if todo.rescored else ""), flush=True)

    # Grades a killed batch left unfinished; the restart grades those submissions again.
    shutil.rmtree(out / ".partial", ignore_errors=True)
    options = GradeOptions(root=ref.root, config=config, notebooks=notebooks, isolation=isolation or "auto",
                           require_isolation=require_isolation, worker_python=worker_python,
                           worker_uid_base=worker_uid_base or sandbox.DEFAULT_UID_BASE)
    batch = Batch(out=out, timeout=timeout, grade_options=options)
    interrupted = False
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if threading.current_thread() is threading.main_thread() else None
    pool = ThreadPoolExecutor(max_workers=jobs)
    bases = tempfile.TemporaryDirectory(prefix="coursekit-batch-")
    try:
        kits = _build_bases(ref, sorted({meta["assignment"] for _, _, meta, _ in todo.grade}), Path(bases.name))
        futures = {pool.submit(batch.grade, name, path, meta, kits[meta["assignment"]], todos): name
                   for name, path, meta, todos in todo.grade}
        with tqdm(total=len(todo.grade), unit="submission", desc="grading", file=sys.stderr) as bar:
            for future in as_completed(futures):
                status = future.result()
                bar.set_postfix_str(f"{futures[future]}: {status}", refresh=False)
                bar.update()
    except KeyboardInterrupt:
        interrupted = True
        batch.stop()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bases.cleanup()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    csv_file, html = report.build(out, csv_path=csv_path)
    rows = report.load_rows(out)
    errors = [r for r in rows if r["status"] != "graded"]
    for row in errors:
        print(f"{row['submission']}: {row['status']}: {row['error']}")
    diff = _regrade_diff(todo, out)
    print(f"scores -> {csv_file}\nreport -> {html}" + (f"\nregrade diff -> {diff}" if diff else ""))
    if interrupted:
        print("interrupted: finished grades are kept; run the same command again to grade the rest", file=sys.stderr)
        return 130
    return 0
