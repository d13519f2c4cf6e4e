"""`coursekit grade SUBMISSION`: grade one submission (zip or folder) and write a Gradescope results.json.

Design:

- The kit a submission runs in is rebuilt from the reference tree (the stubbed release of its assignment,
  with the Cython extension built once, outside the sandbox, from the reference's own sources). Only the
  graded files are taken from the submission: the package files holding TODO regions and the assignment's
  notebooks. Tests, helpers like gradient_check.py and setup.py are therefore always the reference's, and a
  missing file is graded as its unimplemented stub.
- Zips are unpacked refusing absolute paths, `..`, symlinks and oversized archives.
- Three child runs, each in the sandbox (see sandbox.py: memory, CPU, file-size and process limits, own
  network namespace, reference tree hidden by a mount namespace, user nobody, wall-clock timeout that kills
  the process group, output read up to a cap):
  1. public tests, as nobody from the start;
  2. hidden tests: a root-only copy is collected while the child is still root; the hidden tests import the
     submission only inside test functions, so no submission code has run yet; the plugin then deletes the
     copy and drops to nobody (pytest_plugin.py). The originals in the reference tree are under the tmpfs.
  3. `pytest --nbval-lax` on the notebooks, as nobody.
  Tests 1 and 2 run one forked process per test with a per-test alarm, so a crash or hang fails one test.
- Points: each TODO scores points x (checks passed / checks). A TODO's checks are its public and hidden
  tests (grading.toml), or for a notebook TODO its cells and RESULT thresholds.
- results.json is always written, atomically, whatever happens to the submission or to the grader.

What the sandbox does not give: a submission runs in the same process as the tests that judge it, so a
deliberately forging submission could patch pytest from inside; the limits above contain it, they do not
make its reported results trustworthy. Hidden tests therefore hold no solution code.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import pytest_plugin, sandbox
from .config import node_matches
from .fsutil import UnsafeArchiveError, atomic_write_text, copy_tree_no_symlinks, safe_extract
from .reference import Reference, is_junk
from .release import build_kit

PLUGIN_MODULE = "coursekit_plugin"
INI = "[pytest]\n"
MAX_OUTPUT_PER_TODO = 6000


@dataclass
class Check:
    name: str
    passed: bool
    message: str = ""


@dataclass
class RunRecords:
    """What one child pytest run reported."""

    label: str
    tests: dict = field(default_factory=dict)  # nodeid -> {"passed": bool, "message": str, "props": dict}
    collect_errors: dict = field(default_factory=dict)  # file nodeid -> message
    crash: str = ""  # why the run ended without reporting everything, if it did

    def add(self, record):
        nodeid = record["nodeid"]
        if record["when"] == "collect":
            self.collect_errors[nodeid or "<session>"] = record.get("longrepr", "")
            return
        entry = self.tests.setdefault(nodeid, {"passed": False, "message": "", "props": {}, "failed": False})
        entry["props"].update(record.get("props") or {})
        if record["outcome"] == "failed":
            entry["failed"] = True
            entry["message"] = (entry["message"] + "\n" + record.get("longrepr", "")).strip()
        elif record["when"] == "call" and record["outcome"] == "passed":
            entry["passed"] = True
        elif record["outcome"] == "skipped":
            entry["message"] = "skipped (a skipped test earns nothing)"
        entry["ok"] = entry["passed"] and not entry["failed"]

    def missing_reason(self, pattern):
        file_id = pattern.split("::", 1)[0]
        for nodeid, message in self.collect_errors.items():
            if nodeid == file_id or nodeid in ("", "<session>"):
                return f"the test file could not be collected:\n{message}"
        if self.crash:
            return f"the {self.label} run ended before this test reported ({self.crash})"
        return f"no test matches {pattern!r} (check grading.toml)"


def _read_records(path, label, result):
    records = RunRecords(label)
    if Path(path).is_file():
        for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                records.add(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue
    if result is not None and (result.timed_out or result.returncode not in (0, 1)):
        tail = "\n".join(result.output.strip().splitlines()[-12:])
        records.crash = f"{result.describe_exit()}; last output:\n{tail}"
    return records


def _chown_tree(path, ids):
    if ids is None:
        return
    uid, gid = ids
    os.chown(path, uid, gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def _runner_code(runner_dir, args, syspath=None):
    lines = ["import sys", f"sys.path.insert(0, {str(runner_dir)!r})"]
    if syspath:
        lines.append(f"sys.path.insert(0, {str(syspath)!r})")
    lines += ["import pytest", f"sys.exit(pytest.main({args!r}))"]
    return "\n".join(lines)


def build_base(ref, assignment, dest):
    """The stubbed kit of `assignment` in `dest`, with the extension built from the reference's sources."""
    build_kit(ref, assignment, dest)
    notes = []
    if (Path(dest) / "setup.py").is_file() and any(Path(dest).rglob("*.pyx")):
        proc = subprocess.run(
            [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
            cwd=dest,
            capture_output=True,
            text=True,
            timeout=900,
        )
        built = any(Path(dest).rglob("*.so"))
        if proc.returncode != 0 or not built:
            notes.append("the Cython extension did not build; the numpy fallback is used")
    for junk in Path(dest).rglob("build"):
        if junk.is_dir():
            shutil.rmtree(junk, ignore_errors=True)
    return notes


class Grader:
    def __init__(self, ref, assignment, *, notebooks=True, base=None, test_timeout=None):
        self.ref = ref
        self.cfg = ref.config
        if assignment not in self.cfg.assignments:
            raise ValueError(f"unknown assignment {assignment!r}; known: {', '.join(self.cfg.assignments)}")
        self.assignment = assignment
        self.notebooks = notebooks
        self.limits = self.cfg.limits
        self.test_timeout = test_timeout or self.limits.test_timeout
        self.todos = self.cfg.todos_for(assignment)
        self.notebook_names = [Path(nb).name for nb in self.cfg.assignments[assignment]]
        pkg = self.cfg.package + "/"
        self.graded_files = [f for f in ref.todo_files() if f.startswith(pkg)] + self.notebook_names
        self._own_base = base is None
        self.base_notes = []
        if base is None:
            base = Path(tempfile.mkdtemp(prefix="coursekit-base-")) / "kit"
            self.base_notes = build_base(ref, assignment, base)
        self.base = Path(base)
        os.chmod(self.base.parent, 0o755)
        self.ids = sandbox.unprivileged_ids()
        self.sandbox_limits = sandbox.Limits(memory_mb=self.limits.memory_mb, cpu_seconds=self.limits.run_timeout + 60)

    def close(self):
        if self._own_base:
            shutil.rmtree(self.base.parent, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- preparing a submission -------------------------------------------------------------------

    def _locate(self, unpacked):
        """The folder of the submission that holds the package or the notebooks (a zip may nest it)."""
        candidates = [unpacked] + sorted(
            (p for p in unpacked.rglob("*") if p.is_dir() and len(p.relative_to(unpacked).parts) <= 3),
            key=lambda p: len(p.parts),
        )
        for cand in candidates:
            if (cand / self.cfg.package).is_dir() or any((cand / nb).is_file() for nb in self.notebook_names):
                return cand
        raise FileNotFoundError(
            f"the submission holds neither a {self.cfg.package}/ folder nor any of {self.notebook_names}; "
            "make it with collectSubmission.sh"
        )

    def _assemble(self, sub_root, kit):
        shutil.copytree(self.base, kit, symlinks=True)
        notes = []
        for rel in self.graded_files:
            src = sub_root / rel
            if src.is_file():
                shutil.copyfile(src, kit / rel)
            else:
                notes.append(f"missing file {rel}: graded as the unimplemented stub")
        extra = sorted(
            p.relative_to(sub_root).as_posix()
            for p in sub_root.rglob("*")
            if p.is_file() and p.relative_to(sub_root).as_posix() not in self.graded_files and not is_junk(p.relative_to(sub_root))
        )
        if extra:
            shown = ", ".join(extra[:10]) + (" ..." if len(extra) > 10 else "")
            notes.append(f"ignored {len(extra)} file(s) that are not graded (the reference's copies are used): {shown}")
        return notes

    # -- child runs -------------------------------------------------------------------------------

    def _pytest_run(self, work, kit, label, args, *, cwd, drop_user=True, syspath=None, writable=()):
        report = work / "reports" / f"{label}.jsonl"
        report.touch()
        if drop_user and self.ids:
            os.chown(report, *self.ids)
        # Public tests show their source (it ships anyway); hidden tests only their assertion message.
        tb = "--tb=line" if label == "hidden" else "--tb=long"
        code = _runner_code(work / "runner", ["-c", str(work / "runner" / "pytest.ini"), "-q", tb,
                                               "-p", "no:cacheprovider", "-p", PLUGIN_MODULE,
                                               "--ck-report", str(report), "--ck-no-network", *args], syspath)
        env = sandbox.child_env(os.environ, work / "home")
        env.setdefault("CS231N_DATASET", "fashion_mnist")
        result = sandbox.run(
            [sys.executable, "-I", "-B", "-c", code],
            cwd=cwd,
            env=env,
            timeout=self.limits.run_timeout,
            limits=self.sandbox_limits,
            output_cap=self.limits.output_bytes,
            hide_paths=self._hide_paths(work),
            writable=[kit, work / "home", work / "reports", *writable],
            drop_user=drop_user,
        )
        return _read_records(report, label, result)

    def _hide_paths(self, work):
        root = self.ref.root
        if root in Path(work).resolve().parents or root in self.base.resolve().parents:
            # The work folder sits inside the reference tree: hide its secret parts one by one instead.
            return [root / self.cfg.package, root / self.cfg.hidden_tests, *[root / a for a in self.cfg.assignments]]
        return [root]

    def _public(self, work, kit):
        files = sorted({t.split("::", 1)[0] for todo in self.todos for t in todo.public})
        files = [f for f in files if (kit / f).is_file()]
        if not files:
            return RunRecords("public")
        return self._pytest_run(
            work, kit, "public", ["--rootdir", str(kit), f"--ck-fork={self.test_timeout}", *files],
            cwd=kit, syspath=kit,
        )

    def _hidden(self, work, kit):
        src = self.ref.root / self.cfg.hidden_tests
        if not any(t.hidden for t in self.todos):
            return RunRecords("hidden")
        if not src.is_dir():
            raise FileNotFoundError(f"hidden tests folder {src} is missing; check [course] hidden_tests")
        hidden_root = Path(tempfile.mkdtemp(prefix="coursekit-hidden-"))  # mode 0700, owned by the grader
        try:
            shutil.copytree(src, hidden_root / "hidden_tests", ignore=shutil.ignore_patterns("__pycache__"))
            files = sorted({t.split("::", 1)[0] for todo in self.todos for t in todo.hidden})
            args = ["--rootdir", str(hidden_root), f"--ck-fork={self.test_timeout}", "--ck-hidden-dir", str(hidden_root),
                    "--ck-syspath", str(kit)]
            if self.ids:
                args += ["--ck-drop", f"{self.ids[0]}:{self.ids[1]}"]
            args += [str(hidden_root / f) for f in files if (hidden_root / f).is_file()]
            return self._pytest_run(work, kit, "hidden", args, cwd=hidden_root, drop_user=False, writable=[hidden_root])
        finally:
            shutil.rmtree(hidden_root, ignore_errors=True)

    def _notebooks(self, work, kit):
        names = [n for n in self.notebook_names if (kit / n).is_file()]
        if not names:
            return RunRecords("notebooks")
        args = ["--rootdir", str(kit), "-p", "nbval.plugin", "--nbval-lax", "--nbval-current-env",
                f"--nbval-cell-timeout={self.limits.notebook_cell_timeout}", *names]
        return self._pytest_run(work, kit, "notebooks", args, cwd=kit)

    # -- scoring ----------------------------------------------------------------------------------

    def _py_checks(self, todo, public, hidden):
        checks = []
        for records, patterns in ((public, todo.public), (hidden, todo.hidden)):
            for pattern in patterns:
                matched = [n for n in records.tests if node_matches(pattern, n)]
                if not matched:
                    checks.append(Check(pattern, False, records.missing_reason(pattern)))
                for nodeid in matched:
                    entry = records.tests[nodeid]
                    checks.append(Check(nodeid, entry.get("ok", False), entry["message"] or "did not pass"))
        return checks

    def _notebook_checks(self, todo, nb_records):
        checks = []
        name = Path(todo.path).name
        by_cell = {
            entry["props"].get("cell_id"): (nodeid, entry)
            for nodeid, entry in nb_records.tests.items()
            if nodeid.startswith(name + "::")
        }
        for cell_id in todo.cells:
            if cell_id in by_cell:
                nodeid, entry = by_cell[cell_id]
                checks.append(Check(f"{nodeid} (cell {cell_id})", entry.get("ok", False), entry["message"] or "did not pass"))
            else:
                reason = nb_records.missing_reason(name) if nb_records.crash or nb_records.collect_errors else (
                    f"cell id {cell_id} is not in {name}: keep the given cells (edit them, do not re-create them)")
                checks.append(Check(f"{name} cell {cell_id}", False, reason))
        values = {}
        for nodeid, entry in nb_records.tests.items():
            if nodeid.startswith(name + "::"):
                for key, value in entry["props"].items():
                    if key.startswith("RESULT "):
                        values[key[len("RESULT "):]] = value
        for result_name, threshold in todo.min_results.items():
            value = values.get(result_name)
            ok = value is not None and value >= threshold
            got = "not printed" if value is None else f"{value:g}"
            checks.append(Check(f"RESULT {result_name} >= {threshold:g}", ok, "" if ok else f"got {got}"))
        return checks

    def _score(self, todo, checks):
        passed = sum(c.passed for c in checks)
        score = round(todo.points * passed / len(checks), 2) if checks else 0.0
        lines = [f"{passed}/{len(checks)} checks passed"]
        for c in checks:
            if not c.passed:
                lines.append(f"FAILED {c.name}:\n{c.message.strip()}")
        output = "\n".join(lines)
        if len(output) > MAX_OUTPUT_PER_TODO:
            output = output[:MAX_OUTPUT_PER_TODO] + "\n[... cut ...]"
        return {
            "name": todo.id,
            "score": score,
            "max_score": todo.points,
            "status": "passed" if checks and passed == len(checks) else "failed",
            "output": output,
            "visibility": "visible",
        }

    def graded_todos(self):
        return [t for t in self.todos if self.notebooks or not t.is_notebook]

    def _all_failed(self, message):
        return [
            {"name": t.id, "score": 0.0, "max_score": t.points, "status": "failed", "output": message, "visibility": "visible"}
            for t in self.graded_todos()
        ]

    # -- the whole grade --------------------------------------------------------------------------

    def grade(self, submission):
        """Grade one submission (zip or folder); return the results dict. Never raises for a bad submission."""
        start = time.monotonic()
        notes = list(self.base_notes)
        try:
            by_todo = self.checks(submission, notes)
            tests = [self._score(todo, by_todo[todo.id]) for todo in self.graded_todos()]
        except (UnsafeArchiveError, FileNotFoundError, ValueError) as exc:
            notes.append(f"submission rejected: {exc}")
            tests = self._all_failed(f"not graded: {exc}")
        except Exception as exc:  # the grader must still write a results.json, whatever broke
            notes.append(f"grader error: {exc!r}\n{traceback.format_exc(limit=5)}")
            tests = self._all_failed(f"not graded because of a grader error: {exc!r}")
        score = round(sum(t["score"] for t in tests), 2)
        max_score = sum(t["max_score"] for t in tests)
        if not self.notebooks:
            skipped = sum(t.points for t in self.todos if t.is_notebook)
            if skipped:
                notes.append(f"notebooks not run (--no-notebooks): {skipped:g} points of notebook TODOs not graded")
        summary = [f"{self.assignment}: {score:g} / {max_score:g} points"]
        summary.append(f"sandbox: {sandbox.describe_capabilities()}")
        summary += notes
        return {
            "score": score,
            "execution_time": round(time.monotonic() - start, 1),
            "output": "\n".join(summary),
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests,
        }

    def checks(self, submission, notes):
        """Run every check of every graded TODO on `submission`: {todo id: [Check]}. Raises on a bad submission."""
        work = Path(tempfile.mkdtemp(prefix="coursekit-grade-"))
        try:
            os.chmod(work, 0o711)
            return self._checks_in(Path(submission), work, notes)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _checks_in(self, submission, work, notes):
        unpacked = work / "unpacked"
        unpacked.mkdir(mode=0o700)
        if submission.is_dir():
            copy_tree_no_symlinks(submission, unpacked)
        elif submission.is_file():
            safe_extract(submission, unpacked)
        else:
            raise FileNotFoundError(f"submission {submission} does not exist")
        kit = work / "kit"
        notes += self._assemble(self._locate(unpacked), kit)
        for sub in ("reports", "home", "home/tmp", "runner"):
            (work / sub).mkdir(mode=0o755)
        shutil.copyfile(pytest_plugin.__file__, work / "runner" / f"{PLUGIN_MODULE}.py")
        (work / "runner" / "pytest.ini").write_text(INI)
        _chown_tree(kit, self.ids)
        _chown_tree(work / "home", self.ids)
        public = self._public(work, kit)
        hidden = self._hidden(work, kit)
        nb_records = self._notebooks(work, kit) if self.notebooks and any(t.is_notebook for t in self.todos) else None
        for records in (public, hidden, nb_records):
            if records is not None and records.crash:
                notes.append(f"{records.label} run: {records.crash}")
        return {
            todo.id: self._notebook_checks(todo, nb_records) if todo.is_notebook else self._py_checks(todo, public, hidden)
            for todo in self.graded_todos()
        }


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


def main(*, submission, results="results.json", root=None, config=None, assignment=None, notebooks=True,
         base=None, test_timeout=None):
    results_path = Path(results)
    try:
        ref = Reference(root, config)
        assignment = assignment or detect_assignment(ref.config, submission)
        with Grader(ref, assignment, notebooks=notebooks, base=base, test_timeout=test_timeout) as grader:
            outcome = grader.grade(submission)
    except Exception as exc:  # a config or set-up error: still hand Gradescope a valid, failing result
        outcome = {
            "score": 0.0,
            "execution_time": 0.0,
            "output": f"grader error, nothing was graded: {exc}",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [],
        }
        write_results(results_path, outcome)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_results(results_path, outcome)
    max_score = sum(t["max_score"] for t in outcome["tests"])
    print(f"{submission}: {outcome['score']:g} / {max_score:g} -> {results_path}")
    for test in outcome["tests"]:
        print(f"  {test['status']:6}  {test['score']:g}/{test['max_score']:g}  {test['name']}")
    return 0
