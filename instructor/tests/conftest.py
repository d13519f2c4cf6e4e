"""A tiny reference tree built in tmp_path: a package with TODO regions, notebooks, public and hidden tests."""

import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest
from coursekit.markers import END, START

REPO = Path(__file__).resolve().parents[2]

OPS = f'''"""Tiny ops with student regions."""


def add(a, b):
    """Return a + b."""
    out = None
    # TODO: add the two numbers.
    {START}

    out = a + b

    {END}
    return out


def scale(x, k):
    """Return x * k."""
    result = None
    {START}
    result = x * k
    {END}
    return result


class Acc:
    def __init__(self):
        self.items = [1, 2, 3]

    def total(self):
        value = None
        {START}
        value = sum(self.items)
        {END}
        return value
'''

HELPERS = '''"""Given code without regions."""


def double(x):
    return 2 * x
'''

PUBLIC_TESTS = '''from cs231n.ops import Acc, add, scale


def test_add():
    assert add(2, 3) == 5


def test_scale():
    assert scale(2, 4) == 8


def test_total():
    assert Acc().total() == 6
'''

HIDDEN_CHECKS = '''from coursekit.grading.hidden import check


@check("cs231n/ops.py::add")
def add_hidden(t):
    t.expect_value(t.call("ops.add", 10, -3), 7, "add(10, -3)")


@check("cs231n/ops.py::scale")
def scale_hidden(t):
    for k in (0, 3):
        t.expect_value(t.call("ops.scale", 5, k), 5 * k, f"scale(5, {k})")


@check("cs231n/ops.py::Acc.total")
def total_hidden(t):
    acc = t.bare("ops.Acc", {"items": [4, 5]})
    t.expect_value(t.method(acc, "total"), 9, "Acc.total with items [4, 5]")
'''

GRADING = """
[course]
package = "cs231n"
kit_files = ["setup.py", "requirements.txt", "get_datasets.sh", "collectSubmission.sh"]

[limits]
test_timeout = 3
memory_mb = 1024
notebook_cell_timeout = 60

[assignments.assignment1]
notebooks = ["demo.ipynb"]

[assignments.assignment2]
notebooks = ["other.ipynb"]

[[todo]]
id = "cs231n/ops.py::add"
assignment = "assignment1"
points = 2
public = ["tests/test_ops.py::test_add"]

[[todo]]
id = "cs231n/ops.py::scale"
assignment = "assignment1"
points = 3
public = ["tests/test_ops.py::test_scale"]

[[todo]]
id = "assignment1/demo.ipynb::answer"
assignment = "assignment1"
points = 1
min_accuracy = { fashion_mnist = 0.5 }
classes = ["cs231n.classifiers.neural_net.TwoLayerNet"]

[[todo]]
id = "cs231n/ops.py::Acc.total"
assignment = "assignment2"
points = 1
public = ["tests/test_ops.py::test_total"]
"""


def notebook(cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for cell_id, kind, source in cells:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        cell["id"] = cell_id
        if kind == "code":
            cell.execution_count = 1
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="solution output\n")]
        nb.cells.append(cell)
    return nb


DEMO_CELLS = [
    ("intro", "markdown", "# Demo"),
    ("setup", "code", 'import sys\nsys.path.insert(0, "..")\nfrom cs231n.ops import add'),
    ("answer", "code", f"# GRADED: answer\nanswer = None\n{START}\nanswer = add(2, 3) * 1\n{END}"),
    ("report", "code", 'print(f"RESULT demo answer: {answer + 0}")'),
]
OTHER_CELLS = [("only", "code", "x = 1")]


def write_tree(root):
    """Write the fixture reference tree under `root` and return root."""
    root = Path(root)
    files = {
        "cs231n/__init__.py": '"""Fixture package."""\n',
        "cs231n/ops.py": OPS,
        "cs231n/helpers.py": HELPERS,
        "cs231n/datasets/.gitkeep": "",
        "cs231n/datasets/train.bin": "data",
        "tests/test_ops.py": PUBLIC_TESTS,
        "instructor/hidden_tests/ops.py": HIDDEN_CHECKS,
        "instructor/grading.toml": GRADING,
        "setup.py": "from setuptools import setup\n\nsetup()\n",
        "requirements.txt": "numpy\n",
        "get_datasets.sh": "#!/bin/sh\necho fetching\n",
        "CONTRIBUTING.md": "instructor only\n",
        "Makefile": "all:\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text) if rel.endswith(".toml") else text)
    # collectSubmission.sh runs the package's collector, which reads the package's region grammar.
    for rel in ("collectSubmission.sh", "cs231n/collect.py", "cs231n/regions.py"):
        shutil.copy(REPO / rel, root / rel)
    for rel, cells in (("assignment1/demo.ipynb", DEMO_CELLS), ("assignment2/other.ipynb", OTHER_CELLS)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook(cells), root / rel)
    (root / "cs231n/__pycache__").mkdir()
    (root / "cs231n/__pycache__/ops.cpython-311.pyc").write_bytes(b"\0")
    (root / "cs231n/fast.so").write_bytes(b"\0")
    return root


@pytest.fixture
def tree(tmp_path):
    return write_tree(tmp_path / "ref")


@pytest.fixture(scope="module")
def module_tree(tmp_path_factory):
    return write_tree(tmp_path_factory.mktemp("ref"))
