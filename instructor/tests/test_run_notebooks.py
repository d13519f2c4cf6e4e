import re

import nbformat
from coursekit import cli
from coursekit.notebooks.run_notebooks import format_table, results_of


def test_runs_notebooks_and_collects_results(tree, tmp_path, capsys):
    out = tmp_path / "nb"
    assert cli.main(["run-notebooks", "--root", str(tree), "--out", str(out), "--only", "demo"]) == 0
    executed = nbformat.read(out / "assignment1/demo.ipynb", as_version=4)
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code")
    assert (out / "assignment1/demo.html").read_text().startswith("<!DOCTYPE html>")
    printed = capsys.readouterr().out
    assert re.search(r"^demo\.ipynb  ok      \d+\.\d      demo answer 5$", printed, re.MULTILINE), printed
    assert "demo answer 5" in (out / "summary.txt").read_text()


def test_failing_notebook_exits_non_zero(tree, tmp_path, capsys):
    path = tree / "assignment2/other.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = "raise RuntimeError('broken on purpose')"
    nbformat.write(nb, path)
    assert cli.main(["run-notebooks", "--root", str(tree), "--out", str(tmp_path / "nb"), "--only", "other"]) == 1
    assert "RuntimeError: broken on purpose" in capsys.readouterr().out


def test_unknown_notebook_name_is_an_error(tree, tmp_path, capsys):
    assert cli.main(["run-notebooks", "--root", str(tree), "--out", str(tmp_path), "--only", "nope"]) == 2
    assert "no notebook named ['nope.ipynb']" in capsys.readouterr().err


def test_table_layout():
    rows = [{"notebook": "a.ipynb", "ok": False, "error": "boom", "minutes": 1.25, "results": [("acc", "0.5")]}]
    assert format_table(rows).splitlines() == [
        "notebook  status  minutes  results",
        "a.ipynb   FAILED  1.2      acc 0.5",
        "a.ipynb: boom",
    ]


def test_results_may_hold_several_figures():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=(
        "RESULT deep net train accuracy (mean of 3 seeds): baseline 0.512, batchnorm 0.730\n"
        "noise: 1\nRESULT two-layer test accuracy: 0.886\n"))]
    nb.cells.append(cell)
    assert results_of(nb) == [("deep net train accuracy (mean of 3 seeds)", "baseline 0.512, batchnorm 0.730"),
                              ("two-layer test accuracy", "0.886")]
