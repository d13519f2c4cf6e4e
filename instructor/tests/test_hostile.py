"""Hostile and broken submissions: each yields a valid results.json with clear failed tests, never a hang."""

import json
import socket
import zipfile

import pytest
from coursekit import cli, sandbox
from coursekit.grade import Grader
from coursekit.reference import Reference
from coursekit.release import write_solved

ADD_BODY = "    out = a + b\n"


@pytest.fixture(scope="module")
def grader(module_tree):
    with Grader(Reference(module_tree), "assignment1", notebooks=False) as g:
        yield g


def submission(grader, tmp_path, *, add_body=None, header=None):
    sub = write_solved(grader.ref, "assignment1", tmp_path / "sub")
    ops = sub / "cs231n/ops.py"
    text = ops.read_text()
    if add_body is not None:
        text = text.replace(ADD_BODY, add_body)
    if header is not None:
        text = header + text
    ops.write_text(text)
    return sub


def graded(results):
    assert {"score", "execution_time", "output", "tests"} <= set(results)
    json.dumps(results)
    return {t["name"]: t for t in results["tests"]}


def test_infinite_loop_fails_only_its_todo(grader, tmp_path):
    tests = graded(grader.grade(submission(grader, tmp_path, add_body="    while True:\n        pass\n")))
    assert tests["cs231n/ops.py::add"]["score"] == 0 and "longer than 3 s" in tests["cs231n/ops.py::add"]["output"]
    assert tests["cs231n/ops.py::scale"]["score"] == 3


@pytest.mark.parametrize(
    ("header", "words"),
    [("import os\nos._exit(3)\n", "code 3"), ("import sys\nsys.exit('bye')\n", "bye"), ("def broken(:\n", "SyntaxError")],
)
def test_exit_or_syntax_error_at_import(grader, tmp_path, header, words):
    tests = graded(grader.grade(submission(grader, tmp_path, header=header)))
    assert all(t["score"] == 0 and t["status"] == "failed" for t in tests.values())
    assert words in tests["cs231n/ops.py::add"]["output"]


def test_memory_bomb_is_a_failed_test(grader, tmp_path):
    body = "    hog = []\n    while True:\n        hog.append(bytearray(2**26))\n"
    tests = graded(grader.grade(submission(grader, tmp_path, add_body=body)))
    assert tests["cs231n/ops.py::add"]["score"] == 0 and "MemoryError" in tests["cs231n/ops.py::add"]["output"]
    assert tests["cs231n/ops.py::scale"]["score"] == 3


def test_megabytes_of_output_are_capped(grader, tmp_path):
    body = "    for _ in range(20):\n        print('x' * 500_000)\n    out = a + b\n"
    results = grader.grade(submission(grader, tmp_path, add_body=body))
    assert graded(results)["cs231n/ops.py::add"]["score"] == 2
    assert len(json.dumps(results)) < 100_000


def test_missing_file_is_graded_as_the_stub(grader, tmp_path):
    sub = submission(grader, tmp_path)
    (sub / "cs231n/ops.py").unlink()
    results = grader.grade(sub)
    assert results["score"] == 0 and "missing file cs231n/ops.py" in results["output"]


def test_zip_with_parent_paths_is_rejected(grader, tmp_path, module_tree):
    bad = tmp_path / "a1_submission.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("demo.ipynb", "{}")
        zf.writestr("../../escaped.py", "print('hi')")
    out = tmp_path / "results.json"
    assert cli.main(["grade", str(bad), "--root", str(module_tree), "--results", str(out), "--no-notebooks"]) == 0
    results = json.loads(out.read_text())
    assert results["score"] == 0 and results["tests"] and "escapes the folder" in results["output"]
    assert not (tmp_path.parent / "escaped.py").exists()


def test_symlink_in_submission_is_rejected(grader, tmp_path):
    sub = submission(grader, tmp_path)
    (sub / "cs231n/link.py").symlink_to("/etc/passwd")
    results = grader.grade(sub)
    assert results["score"] == 0 and "symlink" in results["output"]


@pytest.mark.skipif(not sandbox.capabilities()["mount_namespace"], reason="hiding files needs root (mount namespace)")
def test_submission_cannot_read_hidden_tests_or_write_outside(grader, tmp_path, module_tree):
    hidden = module_tree / "instructor/hidden_tests/test_hidden.py"
    outside = tmp_path / "outside.txt"
    body = (
        "    import glob\n"
        "    found = ''\n"
        f"    for path in [{str(hidden)!r}] + glob.glob('/tmp/coursekit-hidden-*/**/*.py', recursive=True):\n"
        "        try:\n"
        "            found += open(path).read()\n"
        "        except OSError:\n"
        "            pass\n"
        "    for target in [" + repr(str(outside)) + ", " + repr(str(module_tree / "cs231n/pwned.py")) + "]:\n"
        "        try:\n"
        "            open(target, 'w').write('x')\n"
        "        except OSError:\n"
        "            pass\n"
        "    out = a + b if 'test_add_hidden' in found else None\n"
    )
    tests = graded(grader.grade(submission(grader, tmp_path, add_body=body)))
    assert tests["cs231n/ops.py::add"]["score"] == 0
    assert not outside.exists() and not (module_tree / "cs231n/pwned.py").exists()
    assert hidden.is_file()


@pytest.mark.skipif(not sandbox.capabilities()["network_namespace"], reason="needs root (network namespace)")
def test_submission_has_no_network(grader, tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.setblocking(False)
        port = server.getsockname()[1]
        body = (
            "    import socket\n"
            "    try:\n"
            f"        socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
            "        out = a + b\n"
            "    except OSError:\n"
            "        out = None\n"
        )
        tests = graded(grader.grade(submission(grader, tmp_path, add_body=body)))
        assert tests["cs231n/ops.py::add"]["score"] == 0
        with pytest.raises(BlockingIOError):
            server.accept()
