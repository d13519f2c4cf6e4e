"""collectSubmission.sh on a fixture kit: checks, warnings, the zip, the HTML/PDF export."""

import subprocess
import zipfile

import nbformat
import pytest
from coursekit.reference import Reference
from coursekit.release import release_assignment, write_solved


@pytest.fixture
def kit(tree, tmp_path):
    kit = release_assignment(Reference(tree), "assignment1", tmp_path / "release")
    write_solved(Reference(tree), "assignment1", kit)  # the student solved everything ...
    nb = nbformat.read(kit / "demo.ipynb", as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.execution_count = i  # ... and ran the notebook
    nbformat.write(nb, kit / "demo.ipynb")
    (kit / "cs231n/datasets/big.bin").write_bytes(b"0" * 1000)
    (kit / "cs231n/__pycache__").mkdir()
    (kit / "cs231n/__pycache__/ops.pyc").write_bytes(b"0")
    (kit / ".ipynb_checkpoints").mkdir()
    (kit / ".ipynb_checkpoints/demo-checkpoint.ipynb").write_text("{}")
    return kit


def collect(kit, *args):
    return subprocess.run(["bash", str(kit / "collectSubmission.sh"), *args], capture_output=True, text=True, timeout=300)


def test_writes_zip_with_notebooks_and_code_only(kit):
    proc = collect(kit)
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(kit / "a1_submission.zip") as zf:
        names = set(zf.namelist())
    assert names == {"demo.ipynb", "cs231n/__init__.py", "cs231n/helpers.py", "cs231n/ops.py"}
    assert "WARNING" not in proc.stdout
    exported = (kit / "a1_submission.pdf").exists() or (kit / "a1_submission.html").exists()
    assert exported and ("wrote a1_submission.pdf" in proc.stdout or "no PDF converter" in proc.stdout)


def test_unrun_cell_fails_naming_the_notebook(kit):
    nb = nbformat.read(kit / "demo.ipynb", as_version=4)
    nb.cells[2].execution_count = None
    nbformat.write(nb, kit / "demo.ipynb")
    proc = collect(kit)
    assert proc.returncode == 1 and "demo.ipynb: code cell 3 was never run" in proc.stderr
    assert not (kit / "a1_submission.zip").exists()


def test_error_output_fails(kit):
    nb = nbformat.read(kit / "demo.ipynb", as_version=4)
    nb.cells[3].outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="x", traceback=[])]
    nbformat.write(nb, kit / "demo.ipynb")
    proc = collect(kit)
    assert proc.returncode == 1 and "demo.ipynb: code cell 4 ended with NameError" in proc.stderr


def test_missing_notebook_fails(kit):
    (kit / "demo.ipynb").unlink()
    proc = collect(kit, "a1")
    assert proc.returncode == 1 and "demo.ipynb is missing" in proc.stderr


def test_unknown_assignment_argument_fails(kit):
    proc = collect(kit, "a7")
    assert proc.returncode == 1 and "unknown assignment 'a7'" in proc.stderr


def test_warns_about_remaining_stubs(kit, tree):
    (kit / "cs231n/ops.py").write_text((tree / "cs231n/ops.py").read_text())
    release = Reference(tree)
    stubbed = release_assignment(release, "assignment1", kit.parent / "fresh") / "cs231n/ops.py"
    (kit / "cs231n/ops.py").write_text(stubbed.read_text())
    proc = collect(kit)
    assert proc.returncode == 0
    assert "cs231n/ops.py:8: TODO still holds only `pass`" in proc.stdout
