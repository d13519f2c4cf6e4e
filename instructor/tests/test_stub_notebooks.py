"""The release notebooks run with their stubs: every check cell ends in one ✗ line naming the function to
fix, every other cell that needs student code ends in one ✗ line too, and no cell shows a traceback, so a
student's "Run All" on a fresh kit reaches the end of every notebook (issue 11)."""

import ast
import os
import re
from pathlib import Path

import nbformat
import pytest
from coursekit import cli
from coursekit.markers import START
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
CELL_TIMEOUT = 120  # seconds; a stubbed cell fails fast, so only a hang gets near this
FIX_RE = re.compile(r"✗ — fix (.+)$")

NOTEBOOKS = ["two_layer_net.ipynb", "FullyConnectedNets.ipynb", "Dropout.ipynb", "BatchNormalization.ipynb",
             "ConvolutionalNetworks.ipynb"]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    assert cli.main(["release", "--root", str(REPO), "--out", str(out)]) == 0
    return out


def _functions_with_regions(node, text, prefix, names):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef):
            _functions_with_regions(child, text, f"{prefix}{child.name}.", names)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if START in (ast.get_source_segment(text, child) or ""):
                names.add(prefix + child.name)


def todo_names(package):
    """Qualified names of the functions holding a TODO region in `package` (`affine_forward`, `TwoLayerNet.loss`)."""
    names = set()
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if START in text:
            _functions_with_regions(ast.parse(text), text, "", names)
    return names


def run_stubbed(path):
    """Execute the notebook at `path` in its kit folder, errors allowed, as a student's Run All would."""
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ, CS231N_DATASET="fashion_mnist", MPLBACKEND="Agg", CS231N_STRICT_CHECKS="0")
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    return nb


def last_line(cell):
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"
                   and o.get("name") == "stdout")
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def needs_code(cell):
    """A check cell, or a cell that runs student code inside `running(...)` / `checking(...)`."""
    source = cell.source
    return source.startswith("# NBVAL_CHECK_OUTPUT") or "with running(" in source or "with checking(" in source


def problems(nb, todos):
    """Every way the executed stubbed notebook falls short, one string each."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {index} ({cell.get('id')})"
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"{where} shows a traceback: {output.get('ename')}: {output.get('evalue')}")
            elif "Traceback (most recent call last)" in output.get("text", ""):
                found.append(f"{where} prints a traceback")
        if not needs_code(cell):
            continue
        line = last_line(cell)
        match = FIX_RE.search(line)
        if match is None:
            found.append(f"{where} does not end in a ✗ line: {line or '(silent)'}")
        elif not any(re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", match.group(1)) for name in todos):
            found.append(f"{where} names no TODO function: {line}")
    return found


def count_check_cells(nb, todos):
    """(check cells whose last line is a ✗ line naming a TODO function, check cells)."""
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# NBVAL_CHECK_OUTPUT")]
    good = 0
    for cell in checks:
        match = FIX_RE.search(last_line(cell))
        good += bool(match) and any(re.search(rf"(?<![\w.]){re.escape(n)}(?![\w])", match.group(1)) for n in todos)
    return good, len(checks)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stubbed_notebook_names_the_todo_in_every_cell(release, name):
    (path,) = [p for p in release.rglob(name) if ".ipynb_checkpoints" not in p.parts]
    todos = todo_names(path.parent / "cs231n")
    assert todos, f"no TODO functions found in {path.parent / 'cs231n'}"
    nb = run_stubbed(path)
    good, total = count_check_cells(nb, todos)
    assert total, f"{name} has no check cells"
    found = problems(nb, todos)
    assert not found, f"{name}: {good} of {total} check cells name the function to fix\n" + "\n".join(found)
