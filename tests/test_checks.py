"""The notebook check helpers print one stable line on success and a different, fix-naming line on failure."""

import importlib.util
import tempfile
from pathlib import Path

import numpy as np

from cs231n.checks import (
    TodoError,
    check_close,
    check_true,
    check_value,
    checking,
    running,
    unfinished,
)
from cs231n.regions import END, START


def test_check_close_pass(capsys):
    err = check_close("affine_forward", np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]))
    assert capsys.readouterr().out == "affine_forward: rel error < 1e-09 ✓\n"
    assert err < 1e-9


def test_check_close_fail_names_the_layer(capsys):
    err = check_close("affine_forward", np.array([1.0, 2.0]), np.array([1.0, 2.5]), tol=1e-9)
    out = capsys.readouterr().out
    assert out == "affine_forward: rel error 1.1e-01 > 1e-09 ✗ — fix affine_forward\n"
    assert np.isclose(err, 0.5 / 4.5)


def test_check_close_fails_on_nan_none_and_shape(capsys):
    assert np.isnan(check_close("relu_forward", np.array([np.nan]), np.array([1.0])))
    assert check_close("relu_forward", None, np.ones((2, 3))) == np.inf
    assert check_close("relu_forward", np.ones((1, 3)), np.ones((2, 3))) == np.inf
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(line.endswith("✗ — fix relu_forward") for line in lines)
    assert "shape (1, 3) != expected (2, 3)" in lines[2]


def test_check_value_pass_and_fail(capsys):
    assert check_value("svm_loss", 8.999602749096233, 8.999602749096233) == 0.0
    assert check_value("svm_loss", 2.0, 8.999602749096233, fix="svm_loss in cs231n/layers.py") > 0.5
    assert check_value("svm_loss", None, 9.0) == np.inf
    ok, bad, missing = capsys.readouterr().out.splitlines()
    assert ok == "svm_loss: 8.9996 (rel error < 1e-09) ✓"
    assert bad == "svm_loss: 2 != 8.9996 (rel error 6.4e-01) ✗ — fix svm_loss in cs231n/layers.py"
    assert missing.endswith("✗ — fix svm_loss")


def test_check_true(capsys):
    assert check_true("dropout_forward", np.True_, "test mode returns x unchanged") is True
    assert check_true("dropout_forward", False, "test mode returns x unchanged") is False
    ok, bad = capsys.readouterr().out.splitlines()
    assert ok == "dropout_forward: test mode returns x unchanged ✓"
    assert bad == "dropout_forward: test mode returns x unchanged ✗ — fix dropout_forward"


_SOURCE = """
def _stub():
    out = None
    {start}

    pass

    {end}
    return out


def _done(x):
    out = None
    {start}
    out = x[3]
    {end}
    return out
"""


def _load():
    """Write the two functions to a module file (inspect needs a file) without marker lines in this one."""
    folder = Path(tempfile.mkdtemp())
    path = folder / "todo_funcs.py"
    path.write_text(_SOURCE.format(start=START, end=END))
    spec = importlib.util.spec_from_file_location("todo_funcs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._stub, module._done


_stub, _done = _load()


def test_unfinished_finds_stubbed_regions():
    assert unfinished(_stub)
    assert not unfinished(_done)
    assert not unfinished(np.sum)


def test_checking_names_a_stubbed_dependency_when_the_body_raises(capsys):
    with checking("thing_backward", _stub, _done):
        _stub() + 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"thing_backward: {_stub.__qualname__} is not implemented yet (its TODO in "
                   f"todo_funcs.py holds only `pass`) ✗ — fix {_stub.__qualname__}"]


def test_checking_names_the_function_an_error_came_from(capsys):
    with checking("thing", _done):
        _done([1, 2])
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("thing: raised IndexError in _done (todo_funcs.py:")
    assert line.endswith("list index out of range ✗ — fix _done")


def test_checking_adds_the_stub_after_a_failed_check_and_never_stays_silent(capsys):
    with checking("thing", _stub):
        check_close("thing out", _stub(), np.ones(2))
    with checking("other", _done):
        pass
    with checking("fine", _done):
        check_true("fine", _done([0, 0, 0, 1]) == 1, "picks the fourth")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "thing out: got None, expected an array (is the TODO implemented?) ✗ — fix thing out"
    assert lines[1].startswith("thing: _stub is not implemented yet") or "is not implemented yet" in lines[1]
    assert lines[2] == "other: nothing was checked ✗ — fix other"
    assert lines[3] == "fine: picks the fourth ✓"
    assert len(lines) == 4


def test_checking_ends_in_a_summary_when_a_failure_is_followed_by_passing_checks(capsys):
    with checking("thing_backward", _done):
        check_true("thing_backward dx", False, "dx matches")
        check_true("thing_backward dw", True, "dw matches", fix="thing_backward")
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "thing_backward: 1 of 2 checks failed ✗ — fix thing_backward dx"


def test_todo_error_prints_its_message_and_the_stub_it_waits_for(capsys):
    with running("best model", _done, fix="the TODO of this cell"):
        raise TodoError("best_net is None, so nothing was saved")
    with running("best model", _stub, _done):
        raise TodoError("best_net is None, so nothing was saved")
    done, stubbed = capsys.readouterr().out.splitlines()
    assert done == "best model: best_net is None, so nothing was saved ✗ — fix the TODO of this cell"
    assert stubbed.startswith("best model: best_net is None, so nothing was saved; _stub is not implemented yet")
    assert stubbed.endswith("✗ — fix _stub")


def test_running_is_silent_on_success_and_names_a_stub_it_relies_on(capsys):
    with running("train", _done):
        _done([0, 0, 0, 7])
    assert capsys.readouterr().out == ""
    with running("train", _stub):
        pass
    (line,) = capsys.readouterr().out.splitlines()
    assert line.endswith("✗ — fix _stub") and "_stub is not implemented yet" in line


def test_a_stub_that_raises_deep_in_the_traceback_is_named_even_when_not_listed(capsys):
    folder = Path(tempfile.mkdtemp()) / "cs231n"
    folder.mkdir()
    (folder / "deep.py").write_text(f"def scores(x):\n    out = None\n    {START}\n    pass\n    {END}\n    return out.sum()\n")
    spec = importlib.util.spec_from_file_location("deep", folder / "deep.py")
    deep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(deep)

    with running("plot", fix="the plot"):
        deep.scores(np.ones(3))
    (line,) = capsys.readouterr().out.splitlines()
    assert line == "plot: scores is not implemented yet (its TODO in cs231n/deep.py holds only `pass`) ✗ — fix scores"


def test_name_error_says_an_earlier_cell_did_not_finish(capsys):
    with running("plot", _done):
        undefined_solver.loss_history  # noqa: B018, F821 - the name an earlier, failed cell would define
    (line,) = capsys.readouterr().out.splitlines()
    assert "name 'undefined_solver' is not defined (run the cells above first" in line
    assert line.endswith("✗ — fix plot")


def test_a_failed_body_closes_its_half_drawn_figures(capsys):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with running("plot", _done):
        plt.figure()
        raise ValueError("no history")
    assert plt.get_fignums() == []
    assert capsys.readouterr().out == "plot: raised ValueError: no history ✗ — fix plot\n"


def test_strict_mode_prints_the_line_then_raises(capsys, monkeypatch):
    import pytest

    from cs231n.checks import StrictCheckFailed

    monkeypatch.setenv("CS231N_STRICT_CHECKS", "1")
    with pytest.raises(ValueError, match="no history"), running("plot", _done):
        raise ValueError("no history")
    with pytest.raises(StrictCheckFailed), checking("thing", _done):
        check_true("thing", False, "works")
    with checking("thing", _done):
        check_true("thing", True, "works")
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["plot: raised ValueError: no history ✗ — fix plot", "thing: works ✗ — fix thing", "thing: works ✓"]
    monkeypatch.setenv("CS231N_STRICT_CHECKS", "0")
    with running("plot", _done):
        raise ValueError("no history")
    assert capsys.readouterr().out.endswith("✗ — fix plot\n")


def test_a_partly_finished_function_is_named_with_how_many_regions_remain(capsys):
    folder = Path(tempfile.mkdtemp())
    (folder / "two.py").write_text(
        f"def loss(x):\n    out = None\n    {START}\n    out = x\n    {END}\n    {START}\n    pass\n    {END}\n    return out\n")
    spec = importlib.util.spec_from_file_location("two", folder / "two.py")
    two = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(two)
    with checking("loss", two.loss):
        check_true("loss", two.loss(1) == 2, "is two")
    assert capsys.readouterr().out.splitlines()[-1] == (
        "loss: loss is not finished: 1 of its 2 TODO regions in two.py hold only `pass` ✗ — fix loss")


def test_an_error_inside_an_unlisted_package_todo_names_it(capsys):
    folder = Path(tempfile.mkdtemp()) / "cs231n"
    folder.mkdir()
    (folder / "bad.py").write_text(f"def forward(x):\n    out = None\n    {START}\n    out = x[5]\n    {END}\n    return out\n")
    spec = importlib.util.spec_from_file_location("bad", folder / "bad.py")
    bad = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bad)
    with checking("forward"):
        bad.forward([1])
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("forward: raised IndexError in forward (cs231n/bad.py:4)")
    assert line.endswith("✗ — fix forward")


def test_a_todo_error_from_given_code_names_the_listed_method_it_mentions(capsys):
    with running("train", _done, fix="the TODO in this cell"):
        raise TodoError("_done returned None: implement _done in todo_funcs.py")
    assert capsys.readouterr().out.endswith("✗ — fix _done\n")
