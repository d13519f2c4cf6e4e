"""Submissions, graders and leftovers checks for test_cheats.py and test_honest.py (not a test module).

The tests grade submissions of the real course (this repository) through the real Grader, as root in the
namespaces mode. A submission is written from the reference with coursekit.authoring.release.write_solved (every TODO
solved, some, or none) and then edited: a region's body replaced, a file rewritten, files added.
"""

import atexit
import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from coursekit.authoring.release import build_kit, write_solved
from coursekit.grading.grade import Grader, build_base
from coursekit.markers import find_regions, qualnames
from coursekit.reference import Reference
from coursekit.sandbox import isolation as sandbox

REPO = Path(__file__).resolve().parents[2]
A1, A2 = "assignment1", "assignment2"
# The tests' graders run their workers as uids of their own (not the default 47000+), so that a grade of
# another grader on the same machine is never taken for a leftover of ours, nor ours for theirs; two test runs
# on one machine set COURSEKIT_TEST_UID_BASE apart (by at least sandbox.SLOTS).
TEST_UID_BASE = int(os.environ.get("COURSEKIT_TEST_UID_BASE", sandbox.DEFAULT_UID_BASE + 800))
WORKER_UIDS = range(TEST_UID_BASE, TEST_UID_BASE + sandbox.SLOTS)
RESULT_KEYS = {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility"}
# leaves_nothing's private folders.
PRIVATE_PREFIX = "coursekit-test-grade-"
# Where the session's shared fixtures go: never into a leaves_nothing block's private folder.
SESSION_TMP = tempfile.gettempdir()


@functools.cache
def reference():
    return Reference(REPO)


@functools.cache
def bases():
    """The stubbed kit of each assignment, built once per test session (the Cython build is the slow part:
    it runs once and the extension is copied into the other kit)."""
    top = Path(tempfile.mkdtemp(prefix="coursekit-test-bases-", dir=SESSION_TMP))
    atexit.register(shutil.rmtree, top, True)
    out = {A2: top / A2}
    build_base(reference(), A2, out[A2])
    out[A1] = top / A1
    build_kit(reference(), A1, out[A1])
    for so in out[A2].rglob("*.so"):
        shutil.copy2(so, out[A1] / so.relative_to(out[A2]))
    return out


def grader(assignment, **kwargs):
    """A Grader of the real course in the namespaces mode (raises where namespaces are not available)."""
    return Grader(reference(), assignment, isolation="namespaces", require_isolation=True, base=bases()[assignment],
                  worker_uid_base=TEST_UID_BASE, **kwargs)


def submission(dest, assignment, solved=None):
    """A submission folder: the reference's code for the TODO ids in `solved` (None: all), stubs elsewhere."""
    return write_solved(reference(), assignment, Path(dest), solved=solved)


def code_todos(assignment):
    return [t for t in reference().config.todos_for(assignment) if not t.is_notebook]


def set_region(path, qualname, code, which=0):
    """Replace the body of region number `which` of function `qualname` in `path` by `code` (dedented, then
    indented like the region)."""
    path = Path(path)
    text = path.read_text()
    regions = find_regions(text, str(path))
    ours = [r for r, q in zip(regions, qualnames(text, regions, str(path))) if q == qualname]
    region = ours[which]
    lines = text.splitlines()
    body = [f"{region.indent}{line}" if line else "" for line in textwrap.dedent(code).strip("\n").splitlines()]
    lines[region.start + 1 : region.end] = body
    path.write_text("\n".join(lines) + "\n")


def append(path, code):
    path = Path(path)
    path.write_text(path.read_text() + "\n" + textwrap.dedent(code))


def check_results(results):
    """Assert `results` is a valid Gradescope results.json; return {TODO id: test entry}."""
    assert RESULT_KEYS <= set(results), results.keys()
    json.dumps(results)
    by_id = {}
    for test in results["tests"]:
        assert TEST_KEYS <= set(test)
        assert test["status"] in ("passed", "failed")
        assert 0 <= test["score"] <= test["max_score"]
        if test["extra_data"]["coursekit"].get("part"):  # 0-point details of a TODO, or the total's holder
            continue
        name, _, path = test["name"].rpartition(" (")
        by_id[f"{path[:-1]}::{name}"] = test
    assert abs(results["score"] - sum(t["score"] for t in results["tests"])) < 1e-6
    return by_id


def output_of(results, todo):
    """What a TODO's entries say (its summary and its details, whenever a student sees them)."""
    check_results(results)
    return "\n".join(t["output"] for t in results["tests"] if t["extra_data"]["coursekit"].get("todo") == todo)


def scores(results):
    return {todo: test["score"] for todo, test in check_results(results).items()}


def points(assignment, todos):
    config = reference().config
    return sum(config.todo(t).points for t in todos)


def orphaned_worker_processes(uids=WORKER_UIDS):
    """Processes of the tests' grading uids in a sandbox's PID namespace that no grade owns any more: their
    line of parents reaches the machine's init through grading-uid processes only (a daemon, or a sandbox
    whose launcher is gone, left a zombie). A sandbox still running has its root-owned launcher as an ancestor."""
    parents = {}
    for pid in _pids():
        try:
            with open(f"/proc/{pid}/stat") as fh:
                parents[pid] = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    orphans = []
    for pid in parents:
        if _uid_of(pid) not in uids or not _in_child_pid_namespace(pid):
            continue
        node, seen = pid, set()
        while node in parents and node not in seen and _uid_of(node) in uids:
            seen.add(node)
            node = parents[node]
        if node in (0, 1):
            orphans.append(pid)
    return orphans


def describe(pids):
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
            out.append(f"{pid} {fields['Name'].strip()} {fields['State'].strip()} ppid {fields['PPid'].strip()} "
                       f"nspid {fields.get('NSpid', '').strip()}")
        except (FileNotFoundError, ProcessLookupError, KeyError):
            out.append(f"{pid} (gone)")
    return "; ".join(out)


def _in_child_pid_namespace(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("NSpid:"):
                    return len(line.split()) > 2
    except (FileNotFoundError, ProcessLookupError):
        pass
    return False


def _pids():
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _uid_of(pid):
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except FileNotFoundError:
        return None


def files_of_worker_uids(since, *tops, uids=WORKER_UIDS):
    """Files and folders under `tops` owned by a grading uid and changed after the time `since`, but in the
    private folders of leaves_nothing blocks (another test session's grades in progress, on a shared machine)."""
    found = []
    for top in tops:
        for dirpath, dirnames, filenames in os.walk(top):
            if dirpath == top:
                dirnames[:] = [d for d in dirnames if not d.startswith(PRIVATE_PREFIX)]
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                if st.st_uid in uids and st.st_ctime >= since:
                    found.append(path)
    return found


@contextlib.contextmanager
def leaves_nothing(uids=WORKER_UIDS):
    """Grade inside this block: afterwards no process of the tests' grading uids (`uids`) may be left, the
    grader's temporary folders (made in a private folder while the block runs) must be gone, and no file of
    those uids may have appeared in the machine's shared temporary folders."""
    private = Path(tempfile.mkdtemp(prefix=PRIVATE_PREFIX))
    # Searchable by every user, listable by none: a uid-mode worker must reach its run folder in it.
    private.chmod(0o711)
    saved, tempfile.tempdir = tempfile.tempdir, str(private)
    start = time.time()
    try:
        yield
    finally:
        tempfile.tempdir = saved
    left = sorted(p.name for p in private.iterdir())
    shutil.rmtree(private, ignore_errors=True)
    orphans = orphaned_worker_processes(uids)
    assert orphans == [], f"processes of a grading uid outlived the grade: {describe(orphans)}"
    assert left == [], f"the grader left temporary folders behind: {left}"
    shared = [p for p in ("/tmp", "/var/tmp", "/dev/shm") if os.path.isdir(p)]
    left_files = files_of_worker_uids(start, *shared, uids=uids)
    assert left_files == [], f"a grading uid left files in a shared temporary folder: {left_files[:5]}"


def graded(g, sub):
    """Grade `sub` and check the grade left nothing behind; (scores of the code TODOs, results)."""
    with leaves_nothing():
        results = g.grade(sub)
    by_todo = scores(results)
    return {t: by_todo[t] for t in by_todo if not t.split("::")[0].endswith(".ipynb")}, results


def in_readable_python_world(script_args, timeout=300, env=None):
    """Run `python script_args...` as root in a private mount namespace in which the interpreter's
    folder is readable by every user, as on an autograder whose setup installed Python system-wide.

    Here the interpreter lives under /root (mode 0700, and its RPATH points there, so a copy elsewhere
    would load another libpython): the namespace puts an empty, world-readable /root over the real one
    and moves the interpreter's folder into it. Nothing outside this test's namespace changes."""
    prefix = Path(sys.base_prefix)
    if not prefix.is_relative_to("/root"):
        return subprocess.run([sys.executable, *script_args], capture_output=True, text=True, timeout=timeout,
                              env=env)
    top = Path("/root") / prefix.relative_to("/root").parts[0]
    stash = Path(tempfile.mkdtemp(prefix="coursekit-stash-"))
    script = (f"mount --bind {top} {stash} && mount -t tmpfs -o mode=0755,size=1m tmpfs /root && "
              f"mkdir {top} && mount --move {stash} {top} && exec {sys.executable} \"$@\"")
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                               *script_args], capture_output=True, text=True, timeout=timeout, env=env)
    finally:
        stash.rmdir()


@functools.cache
def private_reference():
    """A copy of this repository readable by root only: the uid mode refuses to grade with a reference its
    worker uid can read, and this working tree is world-readable."""
    top = Path(tempfile.mkdtemp(prefix="coursekit-test-private-ref-", dir=SESSION_TMP))
    atexit.register(shutil.rmtree, top, True)
    ignore = shutil.ignore_patterns(".git", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info")
    shutil.copytree(REPO, top / "ref", ignore=ignore, symlinks=True)
    return top / "ref"


def grade_in_mode(sub, assignment, isolation, *, timeout=900, **opts):
    """Grade the submission `sub` (folder or zip) of `assignment` with `python -m coursekit grade` in the
    isolation mode `isolation`; return its results.json dict.

    The uid mode runs the grader as root in in_readable_python_world with a private copy of the reference
    (private_reference); the other modes run it here on this repository. `opts` are more `coursekit grade`
    options by their keyword name (jobs=1, test_timeout=5, notebooks=True); the workers run as the tests'
    uids (TEST_UID_BASE) unless worker_uid_base says otherwise. The grader's temporary folders go where
    tempfile puts them (a leaves_nothing block's private folder)."""
    opts.setdefault("worker_uid_base", TEST_UID_BASE)
    root = private_reference() if isolation == "uid" else REPO
    with tempfile.TemporaryDirectory(prefix="coursekit-test-results-") as out:
        results = Path(out) / "results.json"
        args = ["-m", "coursekit", "grade", str(sub), "--root", str(root), "--assignment", assignment,
                "--results", str(results), "--isolation", isolation, "--require-isolation",
                "--base", str(bases()[assignment])]
        for key, value in opts.items():
            flag = "--" + key.replace("_", "-")
            args += [flag] if value is True else [] if value is False else [flag, str(value)]
        env = dict(os.environ, TMPDIR=tempfile.gettempdir())
        if isolation == "uid":
            proc = in_readable_python_world(args, timeout=timeout, env=env)
        else:
            proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(results.read_text())
