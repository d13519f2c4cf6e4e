"""Grading on the fixture tree: reference, release, one TODO solved, notebooks, batch, validate."""

import csv
import json
import shutil

import pytest
from coursekit import cli
from coursekit.grade import Grader
from coursekit.reference import Reference
from coursekit.release import write_solved

SCHEMA_TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility"}


def assert_gradescope(results):
    assert {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"} <= set(results)
    for test in results["tests"]:
        assert SCHEMA_TEST_KEYS <= set(test) and test["status"] in ("passed", "failed")
        assert 0 <= test["score"] <= test["max_score"]
    json.dumps(results)


@pytest.fixture(scope="module")
def grader(module_tree):
    with Grader(Reference(module_tree), "assignment1", notebooks=False) as g:
        yield g


def scores(results):
    return {t["name"]: t["score"] for t in results["tests"]}


def test_reference_release_and_one_todo(grader, module_tree, tmp_path):
    ref = grader.ref
    full = grader.grade(write_solved(ref, "assignment1", tmp_path / "ref"))
    assert_gradescope(full)
    assert scores(full) == {"cs231n/ops.py::add": 2.0, "cs231n/ops.py::scale": 3.0}
    assert "not graded" in full["output"] and "1 points of notebook TODOs" in full["output"]

    release = grader.grade(grader.base)
    assert release["score"] == 0 and all(t["status"] == "failed" for t in release["tests"])
    add = next(t for t in release["tests"] if t["name"] == "cs231n/ops.py::add")
    assert "0/2 checks passed" in add["output"] and "add(10, -3) should be 7" in add["output"]

    one = grader.grade(write_solved(ref, "assignment1", tmp_path / "one", solved={"cs231n/ops.py::scale"}))
    assert scores(one) == {"cs231n/ops.py::add": 0.0, "cs231n/ops.py::scale": 3.0}


def test_grade_cli_with_notebooks_writes_results(module_tree, tmp_path, capsys):
    sub = write_solved(Reference(module_tree), "assignment1", tmp_path / "sub")
    results = tmp_path / "out" / "results.json"
    assert cli.main(["grade", str(sub), "--root", str(module_tree), "--results", str(results)]) == 0
    data = json.loads(results.read_text())
    assert_gradescope(data)
    assert data["score"] == 6.0, data["output"]
    assert "assignment1/demo.ipynb::answer" in capsys.readouterr().out

    # The stubbed notebook cell leaves `answer = None`: the report cell fails and no RESULT is printed.
    stub = tmp_path / "stub"
    shutil.copytree(sub, stub)
    write_solved(Reference(module_tree), "assignment1", tmp_path / "rel", solved=set())
    shutil.copy(tmp_path / "rel" / "demo.ipynb", stub / "demo.ipynb")
    assert cli.main(["grade", str(stub), "--root", str(module_tree), "--results", str(results)]) == 0
    data = json.loads(results.read_text())
    nb = next(t for t in data["tests"] if t["name"] == "assignment1/demo.ipynb::answer")
    assert nb["score"] == 0 and "TypeError" in nb["output"] and "RESULT demo answer >= 5" in nb["output"]
    assert data["score"] == 5.0


def test_grade_batch_writes_one_csv(module_tree, tmp_path):
    ref = Reference(module_tree)
    subs = tmp_path / "subs"
    write_solved(ref, "assignment1", subs / "alice")
    write_solved(ref, "assignment1", subs / "bob", solved={"cs231n/ops.py::add"})
    (subs / "carol.zip").write_bytes(b"not a zip")
    out = tmp_path / "grades"
    argv = ["grade-batch", str(subs), "--root", str(module_tree), "--out", str(out), "--assignment", "assignment1",
            "--no-notebooks", "--jobs", "2"]
    assert cli.main(argv) == 0
    rows = {r["submission"]: r for r in csv.DictReader((out / "scores.csv").open())}
    assert float(rows["alice"]["score"]) == 5 and float(rows["bob"]["score"]) == 2
    assert float(rows["bob"]["cs231n/ops.py::add"]) == 2 and float(rows["carol.zip"]["score"]) == 0
    carol = json.loads((out / "carol.json").read_text())
    assert_gradescope(carol)
    assert "not a valid zip" in carol["output"]


def test_validate_passes_on_the_fixture(module_tree, capsys):
    argv = ["validate", "--root", str(module_tree), "--assignment", "assignment1", "--solve", "cs231n/ops.py::add",
            "--notebooks"]
    assert cli.main(argv) == 0, capsys.readouterr().out
    assert "validate: OK" in capsys.readouterr().out


def test_validate_reports_a_test_that_cannot_fail(tree, capsys):
    public = tree / "tests/test_ops.py"
    public.write_text(public.read_text().replace("assert scale(2, 4) == 8", "assert True"))
    assert cli.main(["validate", "--root", str(tree), "--assignment", "assignment1"]) == 1
    out = capsys.readouterr().out
    assert "release passes tests/test_ops.py::test_scale of cs231n/ops.py::scale" in out
