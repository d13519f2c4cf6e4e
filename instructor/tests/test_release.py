import json
import re
import time
import zipfile

import nbformat
import pytest
import tomllib
from conftest import END, START
from coursekit import cli
from coursekit.authoring.release import ReleaseError, release_assignment, write_solved
from coursekit.reference import Reference


def test_release_builds_both_kits(tree, tmp_path, capsys):
    out = tmp_path / "release"
    assert cli.main(["release", "--root", str(tree), "--out", str(out)]) == 0
    kit = out / "assignment1"
    files = {p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()}
    # The package files its TODOs, notebooks, public tests and collectSubmission.sh reach by import (helpers.py
    # is reached by none), and the datasets/ folder's files but the data, since collect.py names the folder.
    assert files == {"cs231n/__init__.py", "cs231n/ops.py", "cs231n/collect.py", "cs231n/regions.py",
                     "cs231n/datasets/.gitkeep", "tests/test_ops.py", "demo.ipynb", "README.md",
                     "setup.py", "requirements.txt", "get_datasets.sh", "collectSubmission.sh", ".kit-manifest.json"}
    ops = (kit / "cs231n/ops.py").read_text()
    assert "out = a + b" not in ops and "sum(self.items)" not in ops
    assert ops.count(START) == 3 and ops.count(END) == 3
    nb = nbformat.read(kit / "demo.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert "add(2, 3)" not in code[1].source and "pass" in code[1].source
    assert 'sys.path.insert(0, ".")' in code[0].source
    assert json.loads((kit / ".kit-manifest.json").read_text()) == {
        "assignment": "a1", "name": "assignment1", "package": "cs231n", "notebooks": ["demo.ipynb"],
        "todo_files": ["cs231n/ops.py"], "todos": ["cs231n/ops.py::add", "cs231n/ops.py::scale", "demo.ipynb::answer"],
        "models": ["answer.npz"],
    }
    readme = (kit / "README.md").read_text()
    assert "pip install -r requirements.txt" in readme and "pip install -e ." in readme
    assert "CS231N_DATASET=fashion_mnist jupyter lab" in readme and "- `cs231n/ops.py`" in readme
    with zipfile.ZipFile(out / "assignment1.zip") as zf:
        assert "assignment1/cs231n/ops.py" in zf.namelist()
        assert zf.read("assignment1/cs231n/ops.py").decode() == ops
    assert (out / "assignment2" / "other.ipynb").is_file() and (out / "assignment2.zip").is_file()
    assert "leak scans clean" in capsys.readouterr().out


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
    ops = tree / "cs231n/ops.py"
    ops.write_text(ops.read_text() + "\n\ndef total(items):\n    value = sum(self.items)\n    return value\n")
    kit = release_assignment(Reference(tree), "assignment1", tmp_path / "release")
    assert "value = sum(self.items)" in (kit / "cs231n/ops.py").read_text()


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


def _add_cell(tree, rel, source):
    nb = nbformat.read(tree / rel, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(nb, tree / rel)


# What collectSubmission.sh runs (`python3 -m cs231n.collect`) ships in every kit, with what it reaches.
COLLECTOR = {"cs231n/collect.py", "cs231n/regions.py", "cs231n/datasets/.gitkeep"}


def _package_files(kit):
    return {p.relative_to(kit).as_posix() for p in (kit / "cs231n").rglob("*") if p.is_file()}


def test_kit_holds_the_import_closure_of_its_todos_notebooks_and_tests(tree, tmp_path):
    files = {
        "cs231n/deep.py": "def helper():\n    return 1\n",
        "cs231n/sub/__init__.py": "",
        "cs231n/sub/tool.py": "from ..deep import helper\n",
        "cs231n/nbonly.py": 'PICTURES = "pictures"\n',
        "cs231n/pictures/cat.png": "png",
        "cs231n/unused.py": "x = 1\n",
        "cs231n/other_data/x.txt": "data",
    }
    for rel, text in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)
    ops = tree / "cs231n/ops.py"
    # An import inside a function (or a try block) is followed too.
    ops.write_text(ops.read_text() + "\n\ndef _lazy():\n    from .sub import tool\n\n    return tool\n")
    _add_cell(tree, "assignment1/demo.ipynb", "%matplotlib inline\nfrom cs231n import nbonly")
    ref = Reference(tree)
    kit1 = release_assignment(ref, "assignment1", tmp_path / "release")
    assert _package_files(kit1) == {"cs231n/__init__.py", "cs231n/ops.py", "cs231n/sub/__init__.py",
                                    "cs231n/sub/tool.py", "cs231n/deep.py", "cs231n/nbonly.py",
                                    "cs231n/pictures/cat.png"} | COLLECTOR
    kit2 = release_assignment(ref, "assignment2", tmp_path / "release")
    assert _package_files(kit2) == {"cs231n/__init__.py", "cs231n/ops.py", "cs231n/sub/__init__.py",
                                    "cs231n/sub/tool.py", "cs231n/deep.py"} | COLLECTOR
    assert not (kit2 / "demo.ipynb").exists()


def test_a_kit_file_running_a_module_the_package_lacks_stops_the_build(tree, tmp_path):
    (tree / "cs231n/collect.py").unlink()
    with pytest.raises(ReleaseError, match=r"collectSubmission\.sh runs `python -m cs231n\.collect`, which is missing"):
        release_assignment(Reference(tree), "assignment1", tmp_path / "release")


PYPROJECT = """
[build-system]
requires = ["setuptools>=77", "cython>=3.0", "numpy>=2.1"]
build-backend = "setuptools.build_meta"

[project]
name = "cs231n"
version = "1.0"
requires-python = ">=3.10"
license = "MIT"
dependencies = ["numpy>=2.1", "tqdm"]

[project.optional-dependencies]
notebooks = ["jupyterlab>=4", "ipywidgets>=8"]
test = ["pytest>=8"]
dev = ["ruff"]

[tool.pytest.ini_options]
pythonpath = ["."]
"""


def test_kit_pyproject_and_requirements_are_made_for_the_kit(tree, tmp_path):
    (tree / "pyproject.toml").write_text(PYPROJECT)
    grading = tree / "instructor/grading.toml"
    grading.write_text(grading.read_text().replace('kit_files = ["setup.py",', 'kit_files = ["setup.py", "pyproject.toml",'))
    (tree / "cs231n/fastext.pyx").write_text("def f():\n    return 1\n")
    _add_cell(tree, "assignment2/other.ipynb", "from cs231n import fastext")
    ref = Reference(tree)
    kits = {a: release_assignment(ref, a, tmp_path / "release") for a in ("assignment1", "assignment2")}
    for assignment, kit in kits.items():
        project = tomllib.loads((kit / "pyproject.toml").read_text())
        assert project["project"]["name"] == f"cs231n-{assignment}"
        assert project["project"]["license"] == "MIT" and project["project"]["dependencies"] == ["numpy>=2.1", "tqdm"]
        assert project["tool"]["pytest"]["ini_options"] == {"pythonpath": ["."]}
        assert project["tool"]["setuptools"]["package-dir"] == {"": "."}
        requirements = (kit / "requirements.txt").read_text().splitlines()
        assert {"setuptools>=77", "numpy>=2.1", "tqdm", "jupyterlab>=4", "ipywidgets>=8", "pytest>=8"} <= set(requirements)
        assert "ruff" not in requirements and requirements.count("numpy>=2.1") == 1
    # Only the kit with a .pyx to compile needs Cython (and a C compiler).
    assert tomllib.loads((kits["assignment1"] / "pyproject.toml").read_text())["build-system"]["requires"] == ["setuptools>=77"]
    assert "cython>=3.0" not in (kits["assignment1"] / "requirements.txt").read_text()
    a2 = tomllib.loads((kits["assignment2"] / "pyproject.toml").read_text())
    assert a2["build-system"]["requires"] == ["setuptools>=77", "cython>=3.0", "numpy>=2.1"]
    assert a2["tool"]["setuptools"]["package-data"] == {"cs231n": ["*.pyx"]}
    assert "cython>=3.0" in (kits["assignment2"] / "requirements.txt").read_text().splitlines()
    assert (kits["assignment2"] / "cs231n/fastext.pyx").is_file() and not (kits["assignment1"] / "cs231n/fastext.pyx").exists()
    assert "No C compiler" in (kits["assignment1"] / "README.md").read_text()
    assert "numpy fallback" in (kits["assignment2"] / "README.md").read_text()


LOSS = f'''

def mean_loss(scores, labels, reg, weights):
    """A TODO whose solution is long enough to have a structure."""
    loss = None
    {START}
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(len(labels)), labels]).mean()
    for w in weights:
        loss += 0.5 * reg * np.sum(w * w)
    {END}
    return loss
'''
# The same steps with every variable renamed: no line of it equals a solution line.
RENAMED = '''import numpy as np


def softmax_cost(z, y, lam, params):
    """Given code that repeats the solution of ops.mean_loss."""
    centred = z - z.max(axis=1, keepdims=True)
    p = np.exp(centred) / np.exp(centred).sum(axis=1, keepdims=True)
    cost = -np.log(p[np.arange(len(y)), y]).mean()
    for theta in params:
        cost += 0.5 * lam * np.sum(theta * theta)
    return cost
'''


def _plant_loss_todo(tree):
    ops = tree / "cs231n/ops.py"
    ops.write_text("import numpy as np\n" + ops.read_text() + LOSS)
    grading = tree / "instructor/grading.toml"
    grading.write_text(grading.read_text() + '\n[[todo]]\nid = "cs231n/ops.py::mean_loss"\nassignment = "assignment1"\n'
                       'points = 1\npublic = ["tests/test_ops.py::test_add"]\n')
    _add_cell(tree, "assignment1/demo.ipynb", "from cs231n import helpers")


def test_structural_copy_with_renamed_variables_fails_naming_both_places(tree, tmp_path):
    _plant_loss_todo(tree)
    (tree / "cs231n/helpers.py").write_text(RENAMED)
    with pytest.raises(ReleaseError) as info:
        release_assignment(Reference(tree), "assignment1", tmp_path / "release")
    message = str(info.value)
    assert "1 leak(s)" in message and "solution line" not in message
    found = re.search(r"cs231n/helpers\.py:(\d+)-(\d+): repeats, names aside, the code of the solution at "
                      r"cs231n/ops\.py:(\d+)-(\d+) \(cs231n/ops\.py::mean_loss\)", message)
    assert found, message
    # Both spans lie within the copy (lines 6-11 of helpers.py) and the region's body, and cover most of them.
    lines = (tree / "cs231n/ops.py").read_text().splitlines()
    start = lines.index(f"    {START}", lines.index("def mean_loss(scores, labels, reg, weights):"))
    body = (start + 2, lines.index(f"    {END}", start) + 1)
    lo, hi, src_lo, src_hi = map(int, found.groups())
    assert 6 <= lo <= 7 and hi == 11 and body[0] <= src_lo <= body[0] + 1 and src_hi <= body[1]
    assert not (tmp_path / "release" / "assignment1").exists()


def test_short_idioms_and_other_code_are_not_structural_copies(tree, tmp_path):
    _plant_loss_todo(tree)
    # One statement of the solution and the same calls in another order are not a copy of it.
    (tree / "cs231n/helpers.py").write_text(
        "import numpy as np\n\n\ndef stable(z):\n    shifted = z - z.max(axis=1, keepdims=True)\n    return shifted\n\n\n"
        "def penalty(lam, params):\n    total = sum(np.sum(t * t) for t in params)\n    return 0.5 * lam * total\n"
    )
    assert release_assignment(Reference(tree), "assignment1", tmp_path / "release").is_dir()


def test_write_solved_writes_this_assignments_files_and_solved_models(tree, tmp_path):
    (tree / "assignment1/answer.npz").write_bytes(b"model")
    ref = Reference(tree)
    full = write_solved(ref, "assignment1", tmp_path / "full", models=tree / "assignment1")
    assert (full / "answer.npz").read_bytes() == b"model"
    assert not (write_solved(ref, "assignment1", tmp_path / "no-models") / "answer.npz").exists()
    assert "out = a + b" in (full / "cs231n/ops.py").read_text()
    stubbed = write_solved(ref, "assignment1", tmp_path / "stub", solved={"cs231n/ops.py::add"}, models=tree / "assignment1")
    assert not (stubbed / "answer.npz").exists()
    assert "out = a + b" in (stubbed / "cs231n/ops.py").read_text()
    assert "result = x * k" not in (stubbed / "cs231n/ops.py").read_text()
    one = write_solved(ref, "assignment1", tmp_path / "one", solved={"assignment1/demo.ipynb::answer"},
                       models=tree / "assignment1")
    assert (one / "answer.npz").is_file()


def test_release_zip_is_dated_today_or_reproducible(tree, tmp_path, monkeypatch):
    ref = Reference(tree)
    before = time.time()
    release_assignment(ref, "assignment1", tmp_path / "today")
    with zipfile.ZipFile(tmp_path / "today/assignment1.zip") as zf:
        for info in zf.infolist():
            assert before - 2 <= time.mktime((*info.date_time, 0, 0, -1)) <= time.time() + 2, info.date_time
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01 00:00 UTC
    zips = []
    for name in ("one", "two"):
        release_assignment(ref, "assignment1", tmp_path / name)
        zips.append((tmp_path / name / "assignment1.zip").read_bytes())
    assert zips[0] == zips[1]
    with zipfile.ZipFile(tmp_path / "one/assignment1.zip") as zf:
        assert {info.date_time for info in zf.infolist()} == {(2026, 1, 1, 0, 0, 0)}
