import nbformat
from coursekit import cli
from coursekit.run_notebooks import format_table


def test_runs_notebooks_and_collects_results(tree, tmp_path, capsys):
    out = tmp_path / "nb"
    assert cli.main(["run-notebooks", "--root", str(tree), "--out", str(out), "--only", "demo"]) == 0
    executed = nbformat.read(out / "assignment1/demo.ipynb", as_version=4)
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code")
    assert (out / "assignment1/demo.html").read_text().startswith("<!DOCTYPE html>")
    printed = capsys.readouterr().out
    assert "demo.ipynb  ok      0.0      demo answer 5" in printed
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
