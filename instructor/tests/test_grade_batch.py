"""`coursekit grade-batch`: a generated batch is graded, killed, resumed without regrading what was finished,
and yields the CSV and the report; a changed submission is regraded. Classmates graded in one batch cannot
reach each other (issue 19): no worker reads another submission or a grade, busy loops do not cost a
neighbour its points, and names chosen by submissions are text in the CSV."""

import csv
import json
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from coursekit import cli
from coursekit.authoring.release import write_solved
from coursekit.course import grade_batch
from coursekit.course.bench_grading import make_batch
from coursekit.course.grade_batch import batch_assignment, fingerprint, finished, submissions_in
from coursekit.course.report import BATCH_KEY, FIXED_COLUMNS
from coursekit.grading.identify import detect_assignment
from coursekit.reference import Reference
from coursekit.sandbox import isolation as sandbox
from coursekit.sandbox import workeruids
from coursekit.sandbox.cgroups import cpu_share_bounded
from grading_support import (
    A1,
    REPO,
    append,
    code_todos,
    in_readable_python_world,
    points,
    scores,
    submission,
)
from test_sandbox import ROOT, needs_namespaces

# Uids of these tests' own (see test_grade_modes.UID_BASE).
UID_BASE = 52300

POINTS = {"add": 2.0, "scale": 3.0}  # the fixture's graded Python TODOs (conftest.GRADING)


def results_files(out):
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in Path(out).glob("*.json")}


def processes_with(text):
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def expected_points(solved):
    return {name: (points if solved and f"cs231n/ops.py::{name}" in solved else 0.0) for name, points in POINTS.items()}


def column(row, name):
    """The CSV column of a TODO: the grader names tests after their TODO (its id, or a friendlier form of it)."""
    matches = [key for key in row if key not in FIXED_COLUMNS and re.search(rf"\b{name}\b", key)]
    assert len(matches) == 1, (name, list(row))
    return float(row[matches[0]])


def test_make_batch_varies_the_solved_todos(module_tree, tmp_path):
    plan = make_batch(Reference(module_tree), "assignment1", tmp_path, count=8, seed=1)
    assert len(plan) == 8 and sorted(p.name for p in tmp_path.iterdir()) == sorted(plan)
    solved = [s for s in plan.values() if s is not None]
    assert len(solved) == 6 and len(set(map(frozenset, solved))) >= 3
    assert solved[0] == {t.id for t in Reference(module_tree).config.todos_for("assignment1")} and solved[1] == set()
    assert not zipfile.is_zipfile(tmp_path / "a1_student007.zip") and zipfile.is_zipfile(tmp_path / "a1_student006.zip")


def test_batch_killed_and_resumed_regrades_nothing_finished(module_tree, tmp_path, capsys):
    ref = Reference(module_tree)
    subs, out = tmp_path / "subs", tmp_path / "grades"
    plan = make_batch(ref, "assignment1", subs, count=6, seed=3)
    argv = ["grade-batch", str(subs), "--root", str(module_tree), "--out", str(out)]

    batch = subprocess.Popen([sys.executable, "-m", "coursekit", *argv, "--jobs", "1"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while batch.poll() is None and len(results_files(out)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    batch.kill()
    batch.wait()
    before = results_files(out)
    assert 2 <= len(before) < 6, f"kill the batch mid-run: {len(before)} of 6 graded"
    for name in before:
        assert json.loads((out / name).read_text())["extra_data"][BATCH_KEY]["status"] == "graded"
    for _ in range(100):  # the grade processes die with the batch (PR_SET_PDEATHSIG)
        if not processes_with(str(out)):
            break
        time.sleep(0.05)
    assert not processes_with(str(out)), "a grade process outlived the killed batch"

    assert cli.main([*argv, "--jobs", "2"]) == 0
    printed = capsys.readouterr().out
    assert f"6 submissions: {len(before)} already graded, {6 - len(before)} to grade" in printed
    after = results_files(out)
    assert len(after) == 6 and all(after[name] == before[name] for name in before), "a finished grade was redone"

    rows = {r["submission"]: r for r in csv.DictReader((out / "scores.csv").open())}
    assert sorted(rows) == sorted(plan)
    for name, solved in plan.items():
        want = expected_points(solved)
        assert {todo: column(rows[name], todo) for todo in POINTS} == want, name
        assert float(rows[name]["score"]) == sum(want.values()) and rows[name]["status"] == "graded"
        assert rows[name]["assignment"] == "assignment1"
    assert "not a valid zip" in json.loads((out / "a1_student005.json").read_text())["output"]
    page = (out / "report/index.html").read_text()
    for png in ("histogram_assignment1.png", "todos_assignment1.png"):
        assert f'src="{png}"' in page and (out / "report" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'href="../a1_student000.json"' in page and 'href="../scores.csv"' in page

    # Two students re-upload (here: each other's zip): only those two are graded again.
    first, second = subs / "a1_student000.zip", subs / "a1_student001.zip"
    data = first.read_bytes()
    first.write_bytes(second.read_bytes())
    second.write_bytes(data)
    final = results_files(out)
    assert cli.main([*argv, "--jobs", "2"]) == 0
    assert "6 submissions: 4 already graded, 2 to grade" in capsys.readouterr().out
    now = results_files(out)
    assert sorted(n for n in now if now[n] != final[n]) == ["a1_student000.json", "a1_student001.json"]
    rows = {r["submission"]: r for r in csv.DictReader((out / "scores.csv").open())}
    assert float(rows["a1_student000.zip"]["score"]) == 0 and float(rows["a1_student001.zip"]["score"]) == 5


def test_grader_error_is_kept_and_retried(module_tree, tmp_path, capsys):
    subs, out = tmp_path / "subs", tmp_path / "grades"
    make_batch(Reference(module_tree), "assignment1", subs, count=2, seed=0, broken=False)
    argv = ["grade-batch", str(subs), "--root", str(module_tree), "--out", str(out)]
    broken_setup = ["--isolation", "uid", "--worker-python", "/nonexistent/python"]  # the grader refuses: exit 2
    for _ in range(2):  # every grade fails; the second run tries them again
        assert cli.main([*argv, *broken_setup]) == 0
        assert "2 submissions: 0 already graded, 2 to grade" in capsys.readouterr().out
        rows = list(csv.DictReader((out / "scores.csv").open()))
        assert [r["status"] for r in rows] == ["error", "error"] and "grader error" in rows[0]["error"]
    assert cli.main(argv) == 0
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert [r["status"] for r in rows] == ["graded", "graded"] and float(rows[0]["score"]) == 5


def test_unknown_assignment_is_refused_before_grading(module_tree, tmp_path, capsys):
    (tmp_path / "a.zip").write_bytes(b"")
    argv = ["grade-batch", str(tmp_path), "--root", str(module_tree), "--out", str(tmp_path / "out"), "--assignment", "a9"]
    assert cli.main(argv) == 2
    assert "unknown assignment 'a9'; known: assignment1, assignment2" in capsys.readouterr().err


def test_submission_names_that_clash_are_refused(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice.zip").write_bytes(b"")
    with pytest.raises(ValueError, match="alice and alice.zip .* both be graded as .alice."):
        submissions_in(tmp_path)
    with pytest.raises(FileNotFoundError, match="no submission"):
        submissions_in(tmp_path / "alice")


def test_finished_needs_the_same_content_and_settings(tmp_path):
    sub = tmp_path / "a.zip"
    sub.write_bytes(b"one")
    meta = {"submission": "a.zip", "sha256": fingerprint(sub), "notebooks": False, "assignment": "assignment1"}
    results = tmp_path / "a.json"
    results.write_text(json.dumps({"tests": [], "extra_data": {BATCH_KEY: {**meta, "status": "graded"}}}))
    assert finished(results, meta)
    assert not finished(results, {**meta, "notebooks": True})
    sub.write_bytes(b"two")
    assert not finished(results, {**meta, "sha256": fingerprint(sub)})
    results.write_text('{"tests": [], "extra_')  # a torn file is never taken for a grade
    assert not finished(results, meta)
    folder = tmp_path / "f"
    (folder / "x").mkdir(parents=True)
    (folder / "x/a.py").write_text("1")
    first = fingerprint(folder)
    (folder / "x/a.py").rename(folder / "x/b.py")
    assert fingerprint(folder) != first


def test_a_folder_with_two_assignments_notebooks_is_not_guessed(tree, tmp_path):
    # This term's assignment2 work beside last term's assignment1 notebook: grading it as assignment1 would score
    # the wrong work, so a single grade needs --assignment, and a batch takes the assignment the others tell.
    cfg = Reference(tree).config
    both = tmp_path / "subs" / "student42"
    both.mkdir(parents=True)
    shutil.copyfile(tree / "assignment1/demo.ipynb", both / "demo.ipynb")
    shutil.copyfile(tree / "assignment2/other.ipynb", both / "other.ipynb")
    with pytest.raises(ValueError, match="student42 holds the notebooks of assignment1 and assignment2: pass --assignment"):
        detect_assignment(cfg, both)
    named = tmp_path / "a2_student42"
    shutil.copytree(both, named)
    assert detect_assignment(cfg, named) == "assignment2"
    plain = tmp_path / "subs" / "student7"
    plain.mkdir()
    shutil.copyfile(tree / "assignment2/other.ipynb", plain / "other.ipynb")
    assert batch_assignment(cfg, [both, plain]) == "assignment2"
    other = tmp_path / "subs" / "student8"
    other.mkdir()
    shutil.copyfile(tree / "assignment1/demo.ipynb", other / "demo.ipynb")
    assert batch_assignment(cfg, [both, plain, other]) is None


def regrade_rows(out):
    """The rows of the newest regrade diff CSV in `out`, by (student, TODO name)."""
    newest = sorted((out / "regrades").glob("*.csv"))[-1]
    return {(r["student"], r["todo"].split("::")[1]): r for r in csv.DictReader(newest.open())}


def test_regrade_after_a_change_grades_only_what_it_affects(tree, tmp_path, capsys):
    subs, out = tmp_path / "subs", tmp_path / "grades"
    plan = make_batch(Reference(tree), "assignment1", subs, count=3, seed=5, broken=False)
    argv = ["grade-batch", str(subs), "--root", str(tree), "--out", str(out)]
    assert cli.main(argv) == 0
    capsys.readouterr()
    solved = {Path(name).stem: s for name, s in plan.items()}
    graded = results_files(out)

    # Points of `add` 2 -> 4: rescored from the recorded checks, no submission graded again.
    config = tree / "instructor/grading.toml"
    config.write_text(config.read_text().replace('id = "cs231n/ops.py::add"\nassignment = "assignment1"\npoints = 2',
                                                 'id = "cs231n/ops.py::add"\nassignment = "assignment1"\npoints = 4'))
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "0 to grade" in printed and "3 rescored for new points" in printed and "regrade diff -> " in printed
    rows = regrade_rows(out)
    gained = sorted(s for s, done in solved.items() if "cs231n/ops.py::add" in done)
    assert gained and sorted(s for s, todo in rows if todo == "add") == gained
    assert all(rows[s, "add"]["old"] == "2" and rows[s, "add"]["new"] == "4" and rows[s, "add"]["reason"] == "points 2 -> 4"
               for s in gained)
    scores = {r["submission"]: r for r in csv.DictReader((out / "scores.csv").open())}
    assert column(scores["a1_student000.zip"], "add") == 4.0

    # The hidden check of `scale` changes (now nobody passes it): only `scale` is graded again.
    hidden = tree / "instructor/hidden_tests/ops.py"
    hidden.write_text(hidden.read_text().replace("5 * k, f\"scale(5, {k})\"", "5 * k + 1, f\"scale(5, {k})\""))
    before = {n: json.loads((out / n).read_text()) for n in graded}
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "3 to grade with 2 job(s) (3 of them only the TODOs that changed)" in printed
    rows = regrade_rows(out)
    lost = sorted(s for s, done in solved.items() if "cs231n/ops.py::scale" in done)
    assert sorted(rows) == [(s, "scale") for s in lost]
    assert all(rows[s, "scale"]["new"] == "0" and rows[s, "scale"]["reason"] == "its hidden checks changed" for s in lost)
    for name, old in before.items():  # the other TODOs' results are the recorded ones, check by check
        new = json.loads((out / name).read_text())
        keep = [t for t in old["tests"] if "scale" not in t["name"]]
        assert keep == [t for t in new["tests"] if "scale" not in t["name"]], name

    # Nothing changed: nothing graded, no new diff. --only regrades one student whole, and no other.
    assert cli.main(argv) == 0
    assert "3 already graded, 0 to grade" in capsys.readouterr().out
    files = results_files(out)
    assert cli.main([*argv, "--only", "a1_student001"]) == 0
    assert "0 already graded, 1 to grade" in capsys.readouterr().out
    now = results_files(out)
    assert [n for n in now if now[n] != files[n]] == ["a1_student001.json"]
    assert cli.main([*argv, "--only", "nobody"]) == 2
    assert "--only nobody: no such submission" in capsys.readouterr().err


def test_fingerprints_name_what_changed_and_nothing_else(tree):
    from coursekit.grading import regrade
    from coursekit.grading.results import Results, TodoResult

    def recorded():
        fps = regrade.fingerprints(Reference(tree), "assignment1")
        return Results([TodoResult(t, fp["points"], fingerprint=fp) for t, fp in fps.items()])

    before = recorded()
    assert regrade.changes(before, regrade.fingerprints(Reference(tree), "assignment1")) == {}
    ops = tree / "cs231n/ops.py"
    ops.write_text(ops.read_text().replace("out = a + b", "out = b + a"))  # the reference of add
    hidden = tree / "instructor/hidden_tests/ops.py"
    hidden.write_text(hidden.read_text() + "\n\ndef _shared_helper():\n    return 1\n")  # module-level code
    config = tree / "instructor/grading.toml"
    config.write_text(config.read_text().replace("min_accuracy = { fashion_mnist = 0.5 }", "min_accuracy = { fashion_mnist = 0.6 }"))
    reasons = regrade.changes(before, regrade.fingerprints(Reference(tree), "assignment1"))
    assert reasons == {"cs231n/ops.py::add": "its hidden checks changed; its reference code changed",
                       "cs231n/ops.py::scale": "its hidden checks changed",
                       "assignment1/demo.ipynb::answer": "its accuracy threshold changed"}
    assert regrade.needs_grading(reasons) == sorted(reasons)
    assert regrade.needs_grading({"a": "points 2 -> 4", "b": "no longer graded"}) == []
    # A check of another TODO changes: add's and scale's fingerprints stay.
    before = recorded()
    hidden.write_text(hidden.read_text().replace("[4, 5]", "[4, 6]").replace("9, \"Acc", "10, \"Acc"))
    assert regrade.changes(before, regrade.fingerprints(Reference(tree), "assignment1")) == {}


# -- classmates in one batch (issue 19) ------------------------------------------------------------------------

SNOOP = '''
import os


def _batch_paths():
    """The submissions and output folders of the batch, from its command line in /proc."""
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().decode(errors="replace").split("\\0")
        except OSError:
            continue
        if "grade-batch" in argv and "--out" in argv:
            return argv[argv.index("grade-batch") + 1], argv[argv.index("--out") + 1]
    return None


def _read_anything(top):
    got = 0
    for folder, dirs, files in os.walk(top):
        got += 1
        for name in files:
            try:
                with open(os.path.join(folder, name), "rb") as fh:
                    got += len(fh.read(1))
            except OSError:
                pass
    return got


def add(a, b):
    # Earns its points only if a classmate's submission or a grade could be read.
    paths = _batch_paths()
    return a + b if paths and any(_read_anything(top) for top in paths) else None


def scale(x, k):
    # Earns its points when the batch's paths were found: the attack above had something to try.
    return x * k if _batch_paths() else None


class Acc:
    def __init__(self):
        self.items = [1, 2, 3]

    def total(self):
        return sum(self.items)
'''


def _scores_of(out, name):
    data = json.loads((out / f"{name}.json").read_text())
    return {t["name"].split(" ")[0]: t["score"] for t in data["tests"]
            if "ipynb" not in t["name"] and not t["extra_data"]["coursekit"].get("part")}


@pytest.mark.skipif(not ROOT or not shutil.which("unshare"), reason="the uid mode needs root")
def test_a_worker_reads_no_classmate_nor_grade_in_a_uid_mode_batch(tree, tmp_path):
    """The snooper learns the batch's folders from /proc (the uid mode hides no process) and tries to read
    them. A batch whose folders a worker uid could read is refused; a private one is graded, and the
    snooper finds its paths but reads nothing."""
    top = Path(tempfile.mkdtemp(prefix="coursekit-test-batch-", dir="/tmp"))
    try:
        top.chmod(0o755)  # reachable by every user: only the grader's own modes keep the workers out
        subs, out = top / "subs", top / "out"
        write_solved(Reference(tree), "assignment1", subs / "b_honest")
        (subs / "a_snoop" / "cs231n").mkdir(parents=True)
        (subs / "a_snoop" / "cs231n" / "ops.py").write_text(SNOOP)
        for path in [subs, *subs.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        argv = ["-m", "coursekit", "grade-batch", str(subs), "--root", str(tree), "--out", str(out), "--jobs", "2",
                "--assignment", "assignment1", "--isolation", "uid", "--require-isolation",
                "--worker-uid-base", str(UID_BASE)]
        refused = in_readable_python_world(argv)
        assert refused.returncode == 2, refused.stderr
        assert f"can read {subs}" in refused.stderr and f"chmod -R go-rwx {subs} {out}" in refused.stderr
        assert not list(out.glob("*.json"))

        subs.chmod(0o700)
        graded = in_readable_python_world(argv, timeout=600)
        assert graded.returncode == 0, graded.stderr
        assert _scores_of(out, "b_honest") == {"add": 2.0, "scale": 3.0}
        assert _scores_of(out, "a_snoop") == {"add": 0.0, "scale": 3.0}
        for path in [out, *out.rglob("*")]:
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
        assert [pid for uid in range(UID_BASE, UID_BASE + 16) for pid in workeruids.processes_of(uid)] == []
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_csv_cells_named_by_submissions_are_text(tree, tmp_path):
    names = ['=HYPERLINK("evil.example","x")', "+1", "-1", "@SUM(A1)", "\tx", "\ry", "plain"]
    subs, out = tmp_path / "subs", tmp_path / "out"
    for name in names:
        write_solved(Reference(tree), "assignment1", subs / name)
    assert cli.main(["grade-batch", str(subs), "--root", str(tree), "--out", str(out), "--assignment", "assignment1"]) == 0
    rows = list(csv.reader((out / "scores.csv").open(newline="")))
    header, body = rows[0], rows[1:]
    cells = {row[0]: dict(zip(header, row)) for row in body}
    assert sorted(cells) == sorted(("'" + n if n[0] in "=+-@\t\r" else n) for n in names)
    for row in cells.values():
        # The code TODOs solved, the notebook's model (1 point) not saved.
        assert (float(row["score"]), float(row["max_score"]), float(row["percent"])) == (5.0, 6.0, 83.3)
        assert float(row["seconds"]) > 0


# Appended to neural_net.py, so it runs in every worker of the submission as its package is imported: up to
# 120 busy processes, each in a session of its own, that never stop, and 40 s of busy import (less than the
# 60 s a worker's set-up may take).
BUSY = """
import os as _os
import time as _time

for _ in range(120):
    try:
        child = _os.fork()
    except OSError:  # the process limit: burn with what there is
        break
    if child == 0:
        _os.setsid()
        while True:
            pass
_end = _time.monotonic() + 40
while _time.monotonic() < _end:
    pass
"""


@pytest.mark.timeout(900)
@needs_namespaces
def test_busy_loops_cost_a_classmate_graded_beside_them_nothing(tmp_path):
    """Before lanes had a CPU share, the honest submission lost 7 of its 17 points to timeouts here. (In the
    uid mode, whose single lane holds at most RLIMIT_NPROC processes, it kept them even then.)"""
    subs, out = tmp_path / "subs", tmp_path / "out"
    submission(subs / "a1_honest", A1)
    append(submission(subs / "a1_busy", A1, solved=set()) / "cs231n/classifiers/neural_net.py", BUSY)
    argv = ["grade-batch", str(subs), "--root", str(REPO), "--out", str(out), "--jobs", "2", "--isolation",
            "namespaces", "--require-isolation", "--worker-uid-base", str(UID_BASE)]
    assert cli.main(argv) == 0
    honest = json.loads((out / "a1_honest.json").read_text())
    assert {t: s for t, s in scores(honest).items() if "ipynb" not in t} == {t.id: points(A1, [t.id]) for t in code_todos(A1)}
    assert sum(scores(json.loads((out / "a1_busy.json").read_text())).values()) == 0
    assert [pid for uid in range(UID_BASE, UID_BASE + sandbox.SLOTS) for pid in workeruids.processes_of(uid)] == []


@needs_namespaces
def test_the_batch_says_when_submissions_graded_at_once_cannot_share_the_cpu_fairly(tmp_path, monkeypatch, capsys):
    options = {"isolation": "namespaces", "require_isolation": True, "worker_python": None, "worker_uid_base": UID_BASE}
    assert cpu_share_bounded(), "this machine gives cpu cgroups: the busy-loop test above relies on them"
    grade_batch.preflight(tmp_path, tmp_path, {}, jobs=2, **options)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(grade_batch, "cpu_share_bounded", lambda: False)
    grade_batch.preflight(tmp_path, tmp_path, {}, jobs=1, **options)
    assert capsys.readouterr().err == ""
    grade_batch.preflight(tmp_path, tmp_path, {}, jobs=2, **options)
    assert "no cpu cgroup can be made here" in capsys.readouterr().err
