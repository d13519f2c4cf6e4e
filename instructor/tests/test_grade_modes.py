"""The same submissions graded in each isolation mode: equal scores for honest code, nothing for cheats,
nothing left behind, and results.json saying which mode ran."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_tree
from coursekit.authoring.release import write_solved
from coursekit.reference import Reference
from coursekit.sandbox import isolation as sandbox
from coursekit.sandbox import workeruids
from test_sandbox import ROOT, in_readable_python_world, needs_namespaces

CHEAT = '''
import os, sys, time
SECRET = {secret!r}


def add(a, b):
    # Read the reference's solution, start a daemon, leave files behind, then answer from the stolen code.
    try:
        stolen = open(SECRET).read()
    except OSError:
        stolen = ""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            open("/tmp/coursekit-cheat-" + str(os.getpid()), "w").write("x")
            while True:
                time.sleep(0.1)
        os._exit(0)
    namespace = {{}}
    if "out = a + b" in stolen:
        return a + b
    return None


def scale(x, k):
    out = None
    out = x * k
    return out


class Acc:
    def __init__(self):
        self.items = [1, 2, 3]

    def total(self):
        return sum(self.items)
'''


# Uids of our own, so that graders running elsewhere on this machine never look like our leftovers.
UID_BASE = 48100


def _leftovers():
    uids = range(UID_BASE, UID_BASE + sandbox.SLOTS)
    procs = [pid for uid in uids for pid in workeruids.processes_of(uid)]
    files = [p for p in Path("/tmp").iterdir() if p.name.startswith("coursekit-cheat-")]
    runs = [p for p in Path("/tmp").iterdir() if p.name.startswith("coursekit-run-")]
    return procs, files, runs


def _new(before):
    """What this test left behind: processes of the worker uids, cheat files, run folders, not there before."""
    return tuple(sorted(set(now) - set(then)) for now, then in zip(_leftovers(), before))


@pytest.fixture
def submissions(tmp_path):
    tree = write_tree(tmp_path / "ref")
    ref = Reference(tree)
    honest = write_solved(ref, "assignment1", tmp_path / "honest")
    cheat = tmp_path / "cheat"
    (cheat / "cs231n").mkdir(parents=True)
    (cheat / "cs231n" / "ops.py").write_text(CHEAT.format(secret=str(tree / "cs231n" / "ops.py")))
    return tree, honest, cheat


def _grade(tree, submission, isolation, results):
    args = ["-m", "coursekit", "grade", str(submission), "--root", str(tree), "--assignment", "assignment1",
            "--results", str(results), "--isolation", isolation, "--require-isolation", "--worker-uid-base", str(UID_BASE)]
    proc = in_readable_python_world(args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(results.read_text())


def _scores(results):
    return {t["name"].split(" ")[0]: t["score"] for t in results["tests"] if not t["extra_data"]["coursekit"].get("part")}


@pytest.mark.skipif(not ROOT, reason="the namespaces and uid modes need root")
@pytest.mark.parametrize("isolation", [pytest.param("namespaces", marks=needs_namespaces), "uid"])
def test_honest_code_scores_the_same_and_cheats_nothing_in_each_mode(submissions, tmp_path, isolation):
    tree, honest, cheat = submissions
    before = _leftovers()
    good = _grade(tree, honest, isolation, tmp_path / "honest.json")
    assert _scores(good) == {"add": 2.0, "scale": 3.0, "answer": 0.0}
    assert f"isolation: {isolation}" in good["output"]
    bad = _grade(tree, cheat, isolation, tmp_path / "cheat.json")
    assert _scores(bad) == {"add": 0.0, "scale": 3.0, "answer": 0.0}
    assert "add(10, -3) is None" in "".join(t["output"] for t in bad["tests"] if t["name"].startswith("add"))
    deadline = time.monotonic() + 5
    while _new(before) != ([], [], []) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _new(before) == ([], [], [])


def test_unisolated_grading_warns_and_can_refuse(submissions, tmp_path):
    tree, honest, _ = submissions
    results = tmp_path / "none.json"
    argv = [sys.executable, "-m", "coursekit", "grade", str(honest), "--root", str(tree), "--assignment",
            "assignment1", "--results", str(results), "--isolation", "none"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    graded = json.loads(results.read_text())
    assert _scores(graded) == {"add": 2.0, "scale": 3.0, "answer": 0.0}
    assert "untrusted submissions need" in graded["output"]
    proc = subprocess.run(argv + ["--require-isolation"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "require-isolation" in proc.stderr
    refused = json.loads(results.read_text())
    assert refused["tests"] == [] and "nothing was graded" in refused["output"]
    assert os.path.exists(results)


def test_a_rejected_submission_says_why_on_the_terminal(submissions, tmp_path):
    tree, _, _ = submissions
    not_zip = tmp_path / "a1_submission.zip"
    not_zip.write_bytes(b"PK? not really a zip")
    results = tmp_path / "rejected.json"
    argv = [sys.executable, "-m", "coursekit", "grade", str(not_zip), "--root", str(tree), "--assignment",
            "assignment1", "--results", str(results), "--isolation", "none"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rejected = [line for line in proc.stdout.splitlines() if line.startswith("submission rejected:")]
    assert len(rejected) == 1 and "not a valid zip" in rejected[0]
    assert rejected[0] in json.loads(results.read_text())["output"]
