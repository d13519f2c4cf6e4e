"""collectSubmission.sh (cs231n.collect) on a fixture kit: checks, warnings, --partial, the zip, the HTML/PDF export."""

import os
import shutil
import stat
import subprocess
import sys
import time
import zipfile

import nbformat
import pytest
from coursekit.authoring.release import release_assignment, write_solved
from coursekit.reference import Reference

from cs231n.collect import merged_notebook


def _run_all(kit):
    """Give every code cell an execution count, as Restart Kernel and Run All Cells would."""
    nb = nbformat.read(kit / "demo.ipynb", as_version=4)
    count = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
    nbformat.write(nb, kit / "demo.ipynb")


@pytest.fixture
def fresh(tree, tmp_path):
    return release_assignment(Reference(tree), "assignment1", tmp_path / "release")


@pytest.fixture
def kit(tree, fresh):
    write_solved(Reference(tree), "assignment1", fresh)  # the student solved everything ...
    _run_all(fresh)  # ... ran the notebook ...
    (fresh / "answer.npz").write_bytes(b"model")  # ... and its graded cell saved the model
    (fresh / "cs231n/datasets").mkdir(parents=True, exist_ok=True)
    (fresh / "cs231n/datasets/big.bin").write_bytes(b"0" * 1000)
    (fresh / "cs231n/__pycache__").mkdir()
    (fresh / "cs231n/__pycache__/ops.pyc").write_bytes(b"0")
    (fresh / ".ipynb_checkpoints").mkdir()
    (fresh / ".ipynb_checkpoints/demo-checkpoint.ipynb").write_text("{}")
    return fresh


BASH = shutil.which("bash")


def collect(kit, *args, env=None):
    return subprocess.run([BASH, str(kit / "collectSubmission.sh"), *args], capture_output=True, text=True,
                          timeout=300, env=env)


def _set_cell(kit, index, **fields):
    nb = nbformat.read(kit / "demo.ipynb", as_version=4)
    for key, value in fields.items():
        nb.cells[index][key] = value
    nbformat.write(nb, kit / "demo.ipynb")


def test_writes_zip_with_notebooks_code_and_models(kit):
    proc = collect(kit)
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(kit / "a1_submission.zip") as zf:
        names = set(zf.namelist())
    assert names == {"demo.ipynb", "cs231n/__init__.py", "cs231n/ops.py", "answer.npz"}
    assert "WARNING" not in proc.stdout and "MissingIDFieldWarning" not in proc.stdout + proc.stderr
    exported = (kit / "a1_submission.pdf").exists() or (kit / "a1_submission.html").exists()
    assert exported and ("wrote a1_submission.pdf" in proc.stdout or "no PDF:" in proc.stdout)
    assert "1 notebooks, 2 code files, 1 model files" in proc.stdout


def test_zip_has_ordinary_permissions_and_todays_date(kit):
    old = time.mktime((2020, 1, 1, 0, 0, 0, 0, 0, -1))
    os.utime(kit / "cs231n/ops.py", (old, old))  # as unpacked from the release zip
    before = time.time()
    assert collect(kit).returncode == 0
    assert stat.S_IMODE((kit / "a1_submission.zip").stat().st_mode) == 0o666 & ~_umask()
    with zipfile.ZipFile(kit / "a1_submission.zip") as zf:
        for info in zf.infolist():
            assert stat.S_IMODE(info.external_attr >> 16) == 0o644, info.filename
            stamp = time.mktime((*info.date_time, 0, 0, -1))
            assert before - 120 <= stamp <= time.time() + 120, (info.filename, info.date_time)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_unrun_cell_fails_naming_the_cell_by_its_section(kit):
    _set_cell(kit, 2, execution_count=None)
    proc = collect(kit)
    assert proc.returncode == 1
    assert 'demo.ipynb: the cell marked `# GRADED: answer` in section "Demo" was never run' in proc.stderr
    assert not (kit / "a1_submission.zip").exists()


def test_error_output_fails_naming_the_cell_by_its_number(kit):
    _set_cell(kit, 3, outputs=[nbformat.v4.new_output("error", ename="NameError", evalue="x", traceback=[])])
    proc = collect(kit)
    assert proc.returncode == 1
    assert 'demo.ipynb: cell In [3] in section "Demo" ended with NameError' in proc.stderr


def test_partial_hands_in_unfinished_work_with_warnings(fresh):
    # A fresh kit: nothing run, every TODO stubbed, no model saved.
    proc = collect(fresh, "--partial")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert 'demo.ipynb: the code cell starting `import sys` in section "Demo" was never run' in out
    assert "cs231n/ops.py:8: the TODO in add still holds only `pass`" in out
    assert "cs231n/ops.py:19: the TODO in scale still holds only `pass`" in out
    assert 'demo.ipynb: the TODO in the cell marked `# GRADED: answer` in section "Demo" still holds only `pass`' in out
    assert "answer.npz is missing: run the cell marked `# GRADED: answer` in demo.ipynb to the end and save" in out
    assert "3 unfinished TODO(s) and 1 missing model file(s)" in out and "(--partial)" in out
    with zipfile.ZipFile(fresh / "a1_submission.zip") as zf:
        assert set(zf.namelist()) == {"demo.ipynb", "cs231n/__init__.py", "cs231n/ops.py"}


def test_only_this_assignments_todos_are_reported(fresh):
    # ops.py also holds Acc.total, a TODO of assignment 2: the assignment-1 kit does not mention it.
    _run_all(fresh)
    proc = collect(fresh)
    assert proc.returncode == 0, proc.stderr
    assert "the TODO in add" in proc.stdout and "the TODO in scale" in proc.stdout
    assert "Acc.total" not in proc.stdout


def test_missing_notebook_fails(kit):
    (kit / "demo.ipynb").unlink()
    proc = collect(kit, "a1")
    assert proc.returncode == 1 and "demo.ipynb is missing" in proc.stderr


@pytest.mark.parametrize("args, message", [(["a7"], "unknown assignment 'a7'"), (["--all"], "usage:")])
def test_bad_arguments_fail(kit, args, message):
    proc = collect(kit, *args)
    assert proc.returncode == 1 and message in proc.stderr


def _bin_with(tmp_path, tools):
    """A PATH holding python3 (this interpreter), what the shell part needs, and fake `tools` that fail."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    for name in ("dirname", "basename"):
        (bin_dir / name).symlink_to(shutil.which(name))
    for tool in tools:
        (bin_dir / tool).write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / tool).chmod(0o755)
    return {**os.environ, "PATH": str(bin_dir)}


@pytest.mark.parametrize("tools, why", [
    ((), "the PDF export needs xelatex and pandoc; xelatex and pandoc are not installed"),
    (("xelatex",), "the PDF export needs xelatex and pandoc; pandoc is not installed"),
    (("xelatex", "pandoc"), "the PDF export failed"),
])
def test_html_instead_of_pdf_says_why(kit, tmp_path, tools, why):
    proc = collect(kit, env=_bin_with(tmp_path, tools))
    assert proc.returncode == 0, proc.stderr
    assert f"no PDF: {why}" in proc.stdout and "Wrote a1_submission.html instead" in proc.stdout
    assert (kit / "a1_submission.html").is_file() and not (kit / "a1_submission.pdf").exists()


def test_merged_notebook_keeps_cell_ids_and_makes_them_unique(tmp_path):
    paths = []
    for name in ("one.ipynb", "two.ipynb"):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("# Part")]
        nb.cells[0]["id"], nb.cells[1]["id"] = "setup", "part"
        nbformat.write(nb, tmp_path / name)
        paths.append(tmp_path / name)
    merged = merged_notebook(nbformat, paths)
    ids = [cell["id"] for cell in merged.cells]
    assert ids[1:3] == ["setup", "part"] and ids[4:] == ["setup-2", "part-2"]
    assert len(set(ids)) == len(ids)
    nbformat.validate(merged)
