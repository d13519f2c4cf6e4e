"""`coursekit gradescope`: the autograder zip's layout, and Gradescope simulated locally (setup.sh in a fresh
virtual environment, then run_autograder on a reference, a release, broken and hostile submissions)."""

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tarfile
import tempfile
import time
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from coursekit import cli, config
from coursekit.authoring.release import write_solved
from coursekit.config import ConfigError, Visibility
from coursekit.course.bench_container import Box
from coursekit.course.gradescope import WORKER_UID, AutograderError, build
from coursekit.course.submission_limit import decide
from coursekit.grading.results import Check, Results, TodoResult
from coursekit.reference import Reference
from coursekit.sandbox.container import memory_limit_mb, too_small

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")


def names(zip_path):
    with zipfile.ZipFile(zip_path) as zf:
        return {info.filename: info for info in zf.infolist()}


def read(zip_path, name):
    with zipfile.ZipFile(zip_path) as zf:
        return zf.read(name).decode()


def test_zip_layout(tree, tmp_path, capsys):
    (tree / "assignment1/best_model.npz").write_bytes(b"weights")  # a model the reference run left behind
    (tree / "instructor/tests").mkdir()
    (tree / "instructor/tests/test_self.py").write_text("def test_x(): pass\n")
    assert cli.main(["gradescope", "assignment1", "--root", str(tree), "--out", str(tmp_path / "ag")]) == 0
    out = capsys.readouterr().out
    assert "assignment1_autograder.zip" in out
    zip_path = tmp_path / "ag/assignment1_autograder.zip"
    members = names(zip_path)
    for script in ("setup.sh", "run_autograder"):
        assert stat.S_IMODE(members[script].external_attr >> 16) == 0o755
        text = read(zip_path, script)
        assert "@@" not in text
        subprocess.run(["bash", "-n"], input=text, text=True, check=True)
    run = read(zip_path, "run_autograder")
    assert "--assignment assignment1" in run and "grade \"$submission\" --results \"$RESULTS\"" in run
    assert f"WORKER_UID={WORKER_UID}" in read(zip_path, "setup.sh") and "@@" not in read(zip_path, "README.md")
    assert "set its points to\n   6 (the total of `assignment1`" in read(zip_path, "README.md")
    for needed in ("README.md", "autograder.json", "reference/cs231n/ops.py", "reference/instructor/grading.toml",
                   "reference/instructor/hidden_tests/ops.py", "reference/tests/test_ops.py",
                   "reference/assignment1/demo.ipynb", "reference/assignment2/other.ipynb",
                   "reference/get_datasets.sh", "coursekit/pyproject.toml", "coursekit/coursekit/grading/grade.py"):
        assert needed in members, needed
    assert "out = a + b" in read(zip_path, "reference/cs231n/ops.py")  # the reference, not the stub
    # coursekit/regions.py is a link to cs231n/regions.py in the repository: the grader gets the file itself.
    assert "def find_regions(" in read(zip_path, "coursekit/coursekit/regions.py")
    for left_out in ("fast.so", ".pyc", "train.bin", "best_model.npz", "instructor/tests", "__pycache__"):
        assert not [m for m in members if left_out in m], left_out
    manifest = json.loads(read(zip_path, "autograder.json"))
    assert manifest["assignment"] == "assignment1" and manifest["worker_uid"] == WORKER_UID
    for label, body in (("reference", "out = a + b"), ("release", "pass")):
        sample = tmp_path / f"ag/assignment1_{label}_submission.zip"
        assert body in read(sample, "cs231n/ops.py") and "demo.ipynb" in names(sample)
    assert "lacks the trained models assignment1/answer.npz" in out


def test_reference_sample_holds_the_reference_models(tree, tmp_path):
    (tree / "assignment1/answer.npz").write_bytes(b"model")
    _, missing = build(Reference(tree), "assignment1", tmp_path)
    assert not missing and read(tmp_path / "assignment1_reference_submission.zip", "answer.npz") == "model"
    assert "answer.npz" not in names(tmp_path / "assignment1_release_submission.zip")
    assert not [m for m in names(tmp_path / "assignment1_autograder.zip") if m.endswith(".npz")]


def test_build_products_and_data_are_refused(tree, tmp_path):
    (tree / "instructor/hidden_tests/expected.npz").write_bytes(b"\0" * 10)
    (tree / "instructor/hidden_tests/big.txt").write_bytes(b"x" * (6 * 2**20))
    with pytest.raises(AutograderError) as err:
        build(Reference(tree), "assignment1", tmp_path / "ag")
    assert "hidden_tests/expected.npz" in str(err.value) and "hidden_tests/big.txt (6 MB" in str(err.value)
    assert not (tmp_path / "ag/assignment1_autograder.zip").exists()


def test_unknown_assignment_is_a_clear_error(tree, tmp_path, capsys):
    assert cli.main(["gradescope", "assignment9", "--root", str(tree), "--out", str(tmp_path)]) == 2
    assert "unknown assignment 'assignment9'; known: assignment1, assignment2" in capsys.readouterr().err


@pytest.mark.parametrize("assignment", ["assignment1", "assignment2"])
def test_real_tree_builds(assignment, tmp_path):
    zip_path, _ = build(Reference(REPO), assignment, tmp_path)
    members = names(zip_path)
    assert f"reference/{assignment}" in " ".join(members) and "reference/instructor/grading.toml" in members
    products = [m for m in members if m.endswith((".so", ".c", ".pyc", ".npz"))]
    data = [m for m in members if "/datasets/" in m and not m.endswith("/.gitkeep")]
    assert not products and not data


# -- results.json: visibility, the submission limit, the container's memory ------------------------------------


def course_results(visibility=None, show_total=False):
    """A Results of two TODOs: one with a public and a hidden check, one notebook TODO with its measured model."""
    visibility = visibility or Visibility()
    code = TodoResult("cs231n/ops.py::add", 4.0, [Check("add_course_values", True, "", True),
                                                 Check("add_hidden", False, "add(10, -3) is None")], visibility)
    model = TodoResult("assignment1/demo.ipynb::answer", 2.0, [Check("answer model accuracy", True, "accuracy 0.91", True)],
                       visibility, measured={"accuracy": 0.91, "parameters": 1234, "dataset": "fashion_mnist", "split": "val"})
    return Results([code, model], "assignment1", ["isolation: namespaces"], show_total=show_total)


def by_name(data):
    return {t["name"]: t for t in data["tests"]}


def test_default_visibility_shows_summaries_and_public_checks_now_hidden_details_after_publication():
    data = course_results().to_gradescope()
    tests = by_name(data)
    add = tests["add (cs231n/ops.py)"]
    assert (add["score"], add["max_score"], add["visibility"]) == (2.0, 4.0, "visible")
    assert "1/2 checks passed" in add["output"] and "✓ add_course_values" in add["output"]
    assert "add_hidden" not in add["output"] and "details of 1 more check(s): shown when the grades are published" in add["output"]
    details = tests["add (cs231n/ops.py): details"]
    assert (details["score"], details["max_score"], details["visibility"]) == (0.0, 0.0, "after_published")
    assert "✗ add_hidden: add(10, -3) is None" in details["output"]
    assert tests["answer (assignment1/demo.ipynb)"]["visibility"] == "visible" and data["score"] == 4.0
    # Gradescope hides the total while a result waits for publication: the output does not state it either.
    assert data["output"].splitlines()[0] == "assignment1: graded; your total is shown when the grades are published"
    back = Results.from_gradescope(data)
    assert [(t.id, t.score, t.points) for t in back.todos] == [("cs231n/ops.py::add", 2.0, 4.0),
                                                              ("assignment1/demo.ipynb::answer", 2.0, 2.0)]
    assert back.todos[1].measured["parameters"] == 1234 and back.notes == ["isolation: namespaces"]


@pytest.mark.parametrize("hidden_checks, show_total, waiting, total_line", [
    ("hidden", False, ["Total"], False),    # details never shown; a 0-point entry holds the total back
    ("hidden", True, [], True),             # details never shown, total at once
    ("visible", True, [], True),            # everything at once
    ("after_due_date", False, ["add (cs231n/ops.py): details"], False),
])
def test_each_visibility_setting(hidden_checks, show_total, waiting, total_line):
    data = course_results(Visibility(hidden_checks=hidden_checks, show_total=show_total), show_total).to_gradescope()
    assert [t["name"] for t in data["tests"] if t["visibility"] in ("after_due_date", "after_published")] == waiting
    assert data["output"].startswith("assignment1: 4 / 6 points") == total_line
    details = by_name(data).get("add (cs231n/ops.py): details")
    if hidden_checks == "visible":
        assert details is None and "add(10, -3) is None" in by_name(data)["add (cs231n/ops.py)"]["output"]
    else:
        assert details["visibility"] == hidden_checks and details["max_score"] == 0


def test_visibility_settings_are_checked(tmp_path):
    base = "[assignments.a]\nnotebooks = []\n"
    cases = {'[visibility]\nhidden_checks = "later"\n': "hidden_checks = 'later'; choose one of visible",
             '[visibility]\nshow_total = true\n': "show_total = true, but Gradescope hides the total",
             '[leaderboard]\ntodo = "x.py::f"\n': "[leaderboard] takes one key, todo = the id of a notebook TODO",
             '[submissions]\nlimit = -1\n': "[submissions] limit must be a whole number"}
    for text, message in cases.items():
        (tmp_path / "g.toml").write_text(base + text)
        with pytest.raises(ConfigError, match=re.escape(message)):
            config.load(tmp_path / "g.toml")
    (tmp_path / "g.toml").write_text(base + '[visibility]\nhidden_checks = "hidden"\nshow_total = true\n'
                                     'checks = { add_hidden = "visible" }\n')
    found = config.load(tmp_path / "g.toml").visibility
    assert found.show_total and found.of_check("add_hidden", False) == "visible" and found.of_check("x", False) == "hidden"


def metadata(now, previous):
    """submission_metadata.json of a submission at hour `now` after hours `previous` [(hour, score, refused)]."""
    start = datetime(2026, 9, 1, 9, 0, tzinfo=timezone(timedelta(hours=-7)))

    def at(hours):
        return (start + timedelta(hours=hours)).isoformat()

    return {"id": 7, "created_at": at(now), "assignment": {"title": "A1"}, "users": [{"id": 1, "name": "S"}],
            "previous_submissions": [
                {"submission_time": at(h), "score": score,
                 "results": {"score": score, "output": "graded", "tests": [{"name": "t", "score": score, "max_score": 5}],
                             "extra_data": {"coursekit": {"limit": "refused"}} if refused else {}}}
                for h, score, refused in previous]}


@pytest.mark.parametrize("hidden_checks, show_total", [("after_published", False), ("hidden", False), ("visible", True)])
def test_a_results_json_read_back_is_written_back_byte_for_byte(hidden_checks, show_total):
    graded = course_results(Visibility(hidden_checks=hidden_checks, show_total=show_total), show_total)
    graded.leaderboard = [{"name": "Accuracy", "value": 0.91}]
    for data in (graded.to_gradescope(), Results.failed("grader error, nothing was graded: boom").to_gradescope(),
                 {"score": 3, "output": "another grader", "tests": [{"name": "t", "score": 3, "max_score": 5}]}):
        text = json.dumps(data, indent=2)
        back = Results.from_gradescope(json.loads(text))
        assert json.dumps(back.to_gradescope(), indent=2) == text
        back.extra["coursekit_batch"] = {"status": "graded"}  # what grade-batch adds, and nothing else changes
        assert back.to_gradescope() == {**data, "extra_data": {**data.get("extra_data", {}), **back.extra}}
    with pytest.raises(ValueError, match="tests must be a list"):
        Results.from_gradescope({"score": 1}, strict=True)


def test_submission_limit_refuses_the_next_within_its_window_and_keeps_the_score():
    assert decide(metadata(3, [(0, 1.0, False), (1, 2.0, False)]), 3, 24) is None  # the 3rd of 3
    refused = decide(metadata(3, [(0, 1.0, False), (1, 2.0, False), (2, 4.0, False)]), 3, 24)
    assert refused["score"] == 4.0 and refused["tests"][0]["score"] == 4.0
    assert refused["output"].startswith("Submission limit: 3 graded submission(s) per 24 hours. This submission was "
                                        "not graded; your previous score (4) stands. Your next submission is graded "
                                        "if made after 2026-09-02T09:00-07:00.")
    assert refused["extra_data"]["coursekit"]["limit"] == "refused"
    assert decide(metadata(24, [(0, 1.0, False), (1, 2.0, False), (2, 4.0, False)]), 3, 24) is None  # 1st left the window
    # Refusals do not count, and later submissions (a regrade of an old one) neither.
    assert decide(metadata(3, [(0, 1.0, False), (1, 2.0, False), (2, 2.0, True), (2.5, 2.0, True)]), 3, 24) is None
    assert decide(metadata(3, [(0, 1.0, False), (4, 1.0, False), (5, 1.0, False)]), 2, 24) is None
    assert decide(metadata(3, [(0, 1.0, False)] * 9), 0, 24) is None  # no limit set


def test_container_memory_limit_is_read_from_cgroup_v1_and_v2(tmp_path):
    v1 = tmp_path / "v1"
    (v1 / "memory/docker/abc").mkdir(parents=True)
    (v1 / "memory/docker/abc/memory.stat").write_text(f"cache 0\nhierarchical_memory_limit {768 * 2**20}\n")
    (tmp_path / "cg1").write_text("4:memory:/docker/abc\n1:cpu:/\n")
    assert memory_limit_mb(v1, tmp_path / "cg1") == 768
    v2 = tmp_path / "v2"
    (v2 / "a/b").mkdir(parents=True)
    (v2 / "cgroup.controllers").write_text("memory cpu\n")
    (v2 / "a/memory.max").write_text(f"{512 * 2**20}\n")
    (v2 / "a/b/memory.max").write_text("max\n")
    (tmp_path / "cg2").write_text("0::/a/b\n")
    assert memory_limit_mb(v2, tmp_path / "cg2") == 512  # the parent's limit is the one enforced
    (v2 / "a/memory.max").write_text("max\n")
    assert memory_limit_mb(v2, tmp_path / "cg2") is None
    cfg = Reference(REPO).config
    need = cfg.min_memory_mb["assignment2"][0]
    assert too_small(cfg, "assignment2", False, limit_mb=need) == ""
    message = too_small(cfg, "assignment2", False, limit_mb=need - 256)
    assert f"has {need - 256} MB of memory and grading assignment2 needs {need} MB" in message
    assert f"set the memory to {need} MB or more" in message


# -- Gradescope, simulated ---------------------------------------------------------------------------------


def unpack(zip_path, dest):
    """Unzip keeping the executable bits, as Gradescope's unpacking of the autograder does."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            zf.extract(info, dest)
            mode = stat.S_IMODE(info.external_attr >> 16)
            if mode:
                os.chmod(Path(dest) / info.filename, mode)


def processes_with(marker):
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def protected(ag):
    """Places the worker user must not write: the reference, the results, the container's folders.
    (World-writable /tmp is not among them: each Gradescope container grades one submission.)"""
    return [ag / "source/reference/cs231n/pwned.py", ag / "results/pwned.txt", ag / "pwned.txt", ag / "venv/pwned.txt"]


def hostile_header(ag, marker):
    """Code a submission runs at import: writes where it must not, and leaves a daemon behind."""
    targets = [str(p) for p in protected(ag)]
    return (
        "import os as _os\n"
        f"for _target in {targets!r}:\n"
        "    try:\n"
        "        with open(_target, 'w') as _fh:\n"
        "            _fh.write('pwned')\n"
        "    except OSError:\n"
        "        pass\n"
        "if _os.fork() == 0:\n"
        "    _os.setsid()\n"
        "    if _os.fork() == 0:\n"
        f"        _os.execv('/bin/sh', ['/bin/sh', '-c', 'sleep 600 # {marker}'])\n"
        "    _os._exit(0)\n"
    )


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """An /autograder folder after Gradescope's image build: the real tree's assignment1 zip, setup.sh run."""
    if os.geteuid() != 0:
        pytest.skip("setup.sh creates a user and sets root-only permissions: run the simulation as root (CI does)")
    if not SYSTEM_PYTHON.is_file():
        pytest.fail(f"{SYSTEM_PYTHON} is missing: the worker user must run a Python outside /root (apt install python3-venv)")
    out = tmp_path_factory.mktemp("autograder-zip")
    zip_path, _ = build(Reference(REPO), "assignment1", out)
    # CIFAR-10 cannot be downloaded here: setup.sh fetches a stand-in in its layout through get_datasets.sh's
    # URL and md5 overrides, so the download step runs all the same.
    from coursekit.notebooks import cifar_format  # imports cs231n: only when the simulation runs

    cifar_format.main(out=out / "cifar/cifar-10-batches-py", num_train=50, num_test=10)
    tarball = out / "cifar-10-python.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(out / "cifar/cifar-10-batches-py", arcname="cifar-10-batches-py")
    # Not under tmp_path: pytest's base folder is 0700, so the worker user could not reach the venv in it.
    ag = Path(tempfile.mkdtemp(prefix="coursekit-autograder-"))
    try:  # the venv alone is about 500 MB: removed whatever happens
        ag.chmod(0o755)
        unpack(zip_path, ag / "source")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "AUTOGRADER_ROOT": str(ag),
            "COURSEKIT_APT": "0",
            "COURSEKIT_PYTHON": str(SYSTEM_PYTHON),
            "COURSEKIT_DATASETS": "fashion_mnist cifar10",
            "CIFAR10_URL": tarball.as_uri(),
            "CIFAR10_MD5": hashlib.md5(tarball.read_bytes()).hexdigest(),
        }
        start = time.monotonic()
        proc = subprocess.run(["bash", str(ag / "source/setup.sh")], cwd=ag, env=env, capture_output=True, text=True,
                              timeout=1800)
        print(f"setup.sh: {time.monotonic() - start:.0f} s\n{proc.stdout[-3000:]}")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        yield {"root": ag, "env": env, "samples": out}
    finally:
        shutil.rmtree(ag, ignore_errors=True)


def run_autograder(autograder, fill, metadata=None, preexec_fn=None):
    """run_autograder on the submission `fill` writes; `metadata`: Gradescope's submission_metadata.json;
    `preexec_fn`: run in a container-sized cgroup (bench_container.Box.join)."""
    ag = autograder["root"]
    for folder in ("submission", "results"):
        shutil.rmtree(ag / folder, ignore_errors=True)
    (ag / "submission_metadata.json").unlink(missing_ok=True)
    if metadata is not None:
        (ag / "submission_metadata.json").write_text(json.dumps(metadata))
    (ag / "submission").mkdir()
    fill(ag / "submission")
    start = time.monotonic()
    proc = subprocess.run([str(ag / "source/run_autograder")], cwd=ag, env=autograder["env"], capture_output=True,
                          text=True, timeout=1800, preexec_fn=preexec_fn)
    print(f"run_autograder: {time.monotonic() - start:.0f} s, exit {proc.returncode}")
    results = json.loads((ag / "results/results.json").read_text())
    assert isinstance(results["tests"], list) and isinstance(results["output"], str), results
    for test in results["tests"]:
        assert {"name", "score", "max_score", "status", "output"} <= set(test)
        assert 0 <= test["score"] <= test["max_score"]
    return results, proc


def max_score(results):
    return sum(t["max_score"] for t in results["tests"])


def unzip_into(zip_path):
    return lambda folder: zipfile.ZipFile(zip_path).extractall(folder)


def test_setup_prepares_the_container(autograder):
    ag = autograder["root"]
    assert (ag / "datasets/cifar-10-batches-py/data_batch_5").is_file()
    assert (ag / "versions.txt").read_text().count("==") > 10
    for path in (ag / "source", ag / "source/reference/instructor/hidden_tests", ag / "source/reference/cs231n"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    assert stat.S_IMODE((ag / "venv/bin").stat().st_mode) & 0o005 == 0o005
    net = "cs231n/classifiers/neural_net.py"
    kit, reference = (ag / "base/kit" / net).read_text(), (ag / "source/reference" / net).read_text()
    assert kit != reference, "grades start from the release's stubs"
    assert stat.S_IMODE((ag / "base").stat().st_mode) & 0o077 == 0
    assert not list((ag / "venv").rglob("cs231n/layers.py")), "the reference package must not be in the venv"


@pytest.fixture(scope="module")
def reference_model(tmp_path_factory):
    """The model file of assignment1's notebook TODO, trained with the reference code as its graded cell does
    (shorter: 3 epochs reach about 0.88 validation accuracy on Fashion-MNIST, the threshold is 0.86)."""
    import numpy as np

    from cs231n.classifiers.neural_net import TwoLayerNet
    from cs231n.data_utils import get_data
    from cs231n.model_io import save_model

    todo = next(t for t in Reference(REPO).config.todos_for("assignment1") if t.is_notebook)
    data = get_data("fashion_mnist", dtype=np.float32)
    np.random.seed(0)
    net = TwoLayerNet(int(np.prod(data["X_train"].shape[1:])), 100, 10)
    for epoch in range(3):
        net.train(data["X_train"], data["y_train"], data["X_val"], data["y_val"], learning_rate=3e-3 * 0.85**epoch,
                  learning_rate_decay=1.0, reg=0.01, num_iters=data["X_train"].shape[0] // 200, batch_size=200)
    path = tmp_path_factory.mktemp("model") / todo.model
    save_model(net, path, dataset=data["dataset"])
    return path


def test_reference_scores_full_and_release_zero(autograder, reference_model):
    def reference(folder):
        unzip_into(autograder["samples"] / "assignment1_reference_submission.zip")(folder)
        shutil.copyfile(reference_model, folder / reference_model.name)

    reference, _ = run_autograder(autograder, reference)
    assert max_score(reference) > 0 and reference["score"] == max_score(reference), reference["output"]
    assert "isolation: uid" in reference["output"]
    release, _ = run_autograder(autograder, unzip_into(autograder["samples"] / "assignment1_release_submission.zip"))
    assert release["score"] == 0 and max_score(release) == max_score(reference), release["output"]


def test_broken_submissions_get_a_failing_result(autograder, tmp_path):
    not_zip, _ = run_autograder(autograder, lambda f: (f / "a1_submission.zip").write_text("not a zip"))
    assert not_zip["score"] == 0 and "not a valid zip" in not_zip["output"]

    def syntax_error(folder):
        write_solved(Reference(REPO), "assignment1", folder)
        net = folder / "cs231n/classifiers/neural_net.py"
        net.write_text("def broken(:\n" + net.read_text())

    broken, _ = run_autograder(autograder, syntax_error)
    assert broken["score"] == 0 and "SyntaxError" in json.dumps(broken["tests"])


def test_hostile_submission_is_contained(autograder):
    ag = autograder["root"]
    marker = f"coursekit-hostile-{uuid.uuid4().hex}"

    def hostile(folder):
        write_solved(Reference(REPO), "assignment1", folder)
        net = folder / "cs231n/classifiers/neural_net.py"
        net.write_text(hostile_header(ag, marker) + net.read_text())

    try:
        results, _ = run_autograder(autograder, hostile)
        survivors = processes_with(marker)
    finally:
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)
    written = [p for p in protected(ag) if p.exists()]
    for path in written:
        path.unlink()
    assert not written, f"the submission wrote {written}"
    assert not survivors, "a daemon the submission started outlived run_autograder"
    assert results["score"] <= max_score(results)


@contextlib.contextmanager
def container_settings(autograder, text):
    """The container's grading.toml with `text` added (as if the zip had been built with it), restored after."""
    path = autograder["root"] / "source/reference/instructor/grading.toml"
    before = path.read_text()
    path.write_text(before + text)
    try:
        yield
    finally:
        path.write_text(before)


def previous(hour, results):
    """An entry of submission_metadata.json's previous_submissions, `hour` hours into the term."""
    when = datetime(2026, 9, 1, 9, 0, tzinfo=timezone.utc) + timedelta(hours=hour)
    return {"submission_time": when.isoformat(), "score": results["score"], "results": results}


def submitted(hour, earlier):
    return {"id": 1, "created_at": previous(hour, {"score": 0})["submission_time"], "previous_submissions": earlier}


def test_visibility_leaderboard_and_submission_limit_on_gradescope(autograder, reference_model):
    def reference(folder):
        unzip_into(autograder["samples"] / "assignment1_reference_submission.zip")(folder)
        shutil.copyfile(reference_model, folder / reference_model.name)

    tuning = "assignment1/two_layer_net.ipynb::two_layer_net_tuning"
    settings = f'\n[leaderboard]\ntodo = "{tuning}"\n[submissions]\nlimit = 2\nwindow_hours = 24\n'
    with container_settings(autograder, settings):
        first, _ = run_autograder(autograder, reference, submitted(0, []))
        assert first["score"] == max_score(first) > 0
        # The course's defaults: summaries and public checks now, the other checks' details at publication,
        # and so no total in the output until then.
        summaries = [t for t in first["tests"] if t["max_score"] > 0]
        details = [t for t in first["tests"] if t["name"].endswith(": details")]
        assert summaries and all(t["visibility"] == "visible" for t in summaries)
        assert details and all(t["visibility"] == "after_published" and t["max_score"] == 0 for t in details)
        assert first["output"].startswith("assignment1: graded; your total is shown when the grades are published")
        board = {e["name"]: e for e in first["leaderboard"]}
        assert board["Accuracy"]["value"] >= 0.86 and board["Dataset"]["value"] == "fashion_mnist (val)"
        assert board["Parameters"] == {"name": "Parameters", "value": 784 * 100 + 100 + 100 * 10 + 10, "order": "asc"}

        # The third submission within 24 hours of two graded ones: refused, the previous grade stands.
        release = unzip_into(autograder["samples"] / "assignment1_release_submission.zip")
        refused, proc = run_autograder(autograder, release, submitted(5, [previous(0, first), previous(1, first)]))
        assert proc.returncode == 0 and refused["score"] == first["score"] and refused["tests"] == first["tests"]
        assert refused["output"].startswith("Submission limit: 2 graded submission(s) per 24 hours.")
        assert "your previous score" in refused["output"] and "2026-09-02T09:00+00:00" in refused["output"]
        # A day after the first, the same upload is graded (the release: 0).
        later, _ = run_autograder(autograder, release, submitted(24.5, [previous(0, first), previous(1, first),
                                                                        previous(5, refused)]))
        assert later["score"] == 0 and "Submission limit" not in later["output"]
        assert "leaderboard" not in later or all(e["name"] != "Accuracy" for e in later["leaderboard"])


def test_a_container_too_small_is_said_so(autograder):
    release = unzip_into(autograder["samples"] / "assignment1_release_submission.zip")
    need = Reference(REPO).config.min_memory_mb["assignment1"][0]
    box = Box(need - 256, 1.0)
    try:
        small, proc = run_autograder(autograder, release, preexec_fn=box.join)
    finally:
        box.remove()
    assert proc.returncode == 2 and small["tests"] == [] and small["score"] == 0
    assert f"has {need - 256} MB of memory and grading assignment1 needs {need} MB" in small["output"]
    box = Box(40, 1.0)  # too small for the grader to start: the kernel kills it
    try:
        killed, proc = run_autograder(autograder, release, preexec_fn=box.join)
    finally:
        box.remove()
    assert proc.returncode == 137 and killed["score"] == 0
    assert "The grader was killed (signal 9; out of memory?)" in killed["output"]
    assert "raise the container's memory" in killed["output"]
