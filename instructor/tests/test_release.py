import json
import zipfile

import nbformat
import pytest
from conftest import END, START
from coursekit import cli
from coursekit.reference import Reference
from coursekit.release import ReleaseError, release_assignment


def test_release_builds_both_kits(tree, tmp_path, capsys):
    out = tmp_path / "release"
    assert cli.main(["release", "--root", str(tree), "--out", str(out)]) == 0
    kit = out / "assignment1"
    files = {p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()}
    assert {"cs231n/ops.py", "cs231n/helpers.py", "tests/test_ops.py", "demo.ipynb", "README.md", "setup.py",
            "requirements.txt", "get_datasets.sh", "collectSubmission.sh", ".kit-manifest.json"} <= files
    # Instructor-only files, build products and data never ship.
    assert not [f for f in files if f.startswith("instructor") or f.endswith((".so", ".pyc", ".bin", ".toml"))]
    assert "CONTRIBUTING.md" not in files and "Makefile" not in files and "other.ipynb" not in files
    ops = (kit / "cs231n/ops.py").read_text()
    assert "out = a + b" not in ops and "sum(self.items)" not in ops
    assert ops.count(START) == 3 and ops.count(END) == 3
    nb = nbformat.read(kit / "demo.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert "add(2, 3)" not in code[1].source and "pass" in code[1].source
    assert 'sys.path.insert(0, ".")' in code[0].source
    assert json.loads((kit / ".kit-manifest.json").read_text()) == {"assignment": "a1", "notebooks": ["demo.ipynb"]}
    readme = (kit / "README.md").read_text()
    assert "pip install -r requirements.txt && pip install -e ." in readme and "CS231N_DATASET=fashion_mnist" in readme
    with zipfile.ZipFile(out / "assignment1.zip") as zf:
        assert "assignment1/cs231n/ops.py" in zf.namelist()
        assert zf.read("assignment1/cs231n/ops.py").decode() == ops
    assert (out / "assignment2" / "other.ipynb").is_file() and (out / "assignment2.zip").is_file()
    assert "leak scan clean" in capsys.readouterr().out


def test_malformed_marker_stops_the_build_with_file_and_line(tree, tmp_path, capsys):
    ops = tree / "cs231n/ops.py"
    ops.write_text(ops.read_text().replace(END, "# END OF YOUR CODE", 1))
    out = tmp_path / "release"
    assert cli.main(["release", "--root", str(tree), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cs231n/ops.py:19: START marker inside the region opened at line 8" in err
    assert not (out / "assignment1").exists() and not (out / "assignment1.zip").exists()


def test_leaked_solution_line_fails_the_build(tree, tmp_path):
    (tree / "assignment1/notes.txt").write_text("hint:\n    value = sum(self.items)\n")
    with pytest.raises(ReleaseError, match=r"notes\.txt:2: solution line 'value = sum\(self\.items\)' from cs231n/ops\.py:"):
        release_assignment(Reference(tree), "assignment1", tmp_path / "release")
    assert not (tmp_path / "release" / "assignment1").exists()


def test_solution_line_that_is_also_public_is_not_a_leak(tree, tmp_path):
    helpers = tree / "cs231n/helpers.py"
    helpers.write_text(helpers.read_text() + "\n\ndef total(items):\n    value = sum(self.items)\n    return value\n")
    assert release_assignment(Reference(tree), "assignment1", tmp_path / "release").is_dir()


def test_stubbed_package_that_does_not_import_fails_the_build(tree, tmp_path):
    ops = tree / "cs231n/ops.py"
    ops.write_text(ops.read_text() + "\nSEVEN = add(3, 4) + 0\n")
    with pytest.raises(ReleaseError, match="does not import"):
        release_assignment(Reference(tree), "assignment1", tmp_path / "release")


def test_region_without_config_entry_is_refused(tree, tmp_path, capsys):
    helpers = tree / "cs231n/helpers.py"
    helpers.write_text(helpers.read_text() + f"\n\ndef half(x):\n    {START}\n    y = x / 2\n    {END}\n    return y\n")
    assert cli.main(["release", "--root", str(tree), "--out", str(tmp_path / "r")]) == 2
    assert "region cs231n/helpers.py:9 (cs231n/helpers.py::half) has no [[todo]] entry" in capsys.readouterr().err
