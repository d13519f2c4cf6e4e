"""The hidden checks' tolerances: one TOL table per check module, keyed by the TODO ids of grading.toml.

Rules (each test below breaks one on a small check folder of its own, then the real folder must keep them all):
- every TOL key is a code TODO id of grading.toml, with checks in the same module (the table sits next to them);
- an entry is (float64 tolerance, float32 tolerance), either None when no check of that dtype exists, or
  _support.SameAs(a TODO id with such a pair in the same table);
- a TODO whose checks compare values (they reach the module's `tol(...)`, directly or through the module's
  own helper functions) has an entry of its own, so no TODO grades with a tolerance measured for another
  without saying so;
- every expect_close / expect_value call passes a tolerance (the default would be one nothing measured).

instructor/tools/measure_tolerances.py then fails on an entry it did not measure
(test_honest.py::test_tolerances_sit_between_honest_noise_and_bugs runs it).
"""

import ast
import shutil
import sys
from pathlib import Path

from coursekit import config
from coursekit.grading.hidden import load_checks

REPO = Path(__file__).resolve().parents[2]
CHECKS = REPO / "instructor/hidden_tests"
COMPARES = ("expect_close", "expect_value")


def code_todo_ids():
    return {todo.id for todo in config.load(REPO / "instructor/grading.toml").todos if not todo.is_notebook}


def _checked_todos(tree):
    """{check function name: its TODO id} of the module's @check("id", ...) functions."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Name) and deco.func.id == "check"
                        and deco.args and isinstance(deco.args[0], ast.Constant)):
                    found[node.name] = deco.args[0].value
    return found


def _reaching_tol(tree):
    """Names of the module's functions that call `tol(...)`, directly or through the module's own functions."""
    calls = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            calls[node.name] = {c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
    reaching = {name for name, called in calls.items() if "tol" in called}
    grew = True
    while grew:
        grew = False
        for name, called in calls.items():
            if name not in reaching and called & reaching:
                reaching.add(name)
                grew = True
    return reaching


def _untoleranced_compares(tree, path):
    out = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in COMPARES
                and len(node.args) < 4 and not any(k.arg == "tol" for k in node.keywords)):
            out.append(f"{path.name}:{node.lineno}: {node.func.attr} without a tolerance (pass tol=tol(todo, dtype))")
    return out


def _entry_problems(name, table, todos):
    entry = table[name]
    problems = []
    if name not in todos:
        problems.append(f"{name}: a tolerance keyed by an unknown TODO id (not a code TODO of grading.toml)")
    if isinstance(entry, str):
        if not isinstance(table.get(entry), tuple):
            problems.append(f"{name}: takes the tolerance of {entry}, which has no (float64, float32) entry here")
    elif not (isinstance(entry, tuple) and len(entry) == 2
              and all(t is None or (isinstance(t, float) and t >= 0) for t in entry)):
        problems.append(f"{name}: {entry!r} is not (float64 tolerance, float32 tolerance)")
    return problems


def tolerance_problems(folder, todos):
    """What breaks the rules above in the check folder `folder`, given the code TODO ids `todos`."""
    load_checks(folder)
    problems = []
    for path in sorted(Path(folder).glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(), str(path))
        table = getattr(sys.modules[f"_coursekit_hidden_{path.stem}"], "TOL", {})
        checked = _checked_todos(tree)
        for name in table:
            problems += _entry_problems(name, table, todos)
            if name not in checked.values():
                problems.append(f"{name}: a tolerance in {path.name}, which has no check of that TODO")
        for todo in sorted({checked[f] for f in _reaching_tol(tree) if f in checked} - set(table)):
            problems.append(f"{todo}: its checks in {path.name} compare values but its TOL table has no entry for it")
        problems += _untoleranced_compares(tree, path)
    return problems


def _folder(tmp_path, body):
    """A check folder holding the real _support.py and one module `body`."""
    folder = tmp_path / "checks"
    folder.mkdir(parents=True)
    shutil.copyfile(CHECKS / "_support.py", folder / "_support.py")
    (folder / "mine.py").write_text("import _support as S\nfrom coursekit.grading.hidden import check\n\n" + body)
    return folder


MY = "cs231n/layers.py::my_forward"
GOOD = f'''
TOL = {{"{MY}": (1e-10, 1e-4)}}
tol = S.tolerances(TOL, prefix="cs231n/layers.py::")


def _compare(t, x):
    t.expect_close(x, x, "my_forward: out", tol=tol("my_forward", x.dtype))


@check("{MY}")
def my_forward_values(t):
    _compare(t, None)
'''


def test_a_well_formed_table_passes(tmp_path):
    assert tolerance_problems(_folder(tmp_path, GOOD), {MY}) == []


def test_a_tolerance_keyed_by_an_unknown_todo_id_fails(tmp_path):
    problems = tolerance_problems(_folder(tmp_path, GOOD.replace('(1e-10, 1e-4)}', '(1e-10, 1e-4), "my_forward": (1e-9, None)}')), {MY})
    assert problems == ["my_forward: a tolerance keyed by an unknown TODO id (not a code TODO of grading.toml)",
                        "my_forward: a tolerance in mine.py, which has no check of that TODO"]


def test_a_todo_comparing_values_without_a_tolerance_of_its_own_fails(tmp_path):
    other = "cs231n/layers.py::my_backward"
    body = GOOD + f'''

@check("{other}")
def my_backward_values(t):
    _compare(t, None)
'''
    assert tolerance_problems(_folder(tmp_path, body), {MY, other}) == [
        f"{other}: its checks in mine.py compare values but its TOL table has no entry for it"]
    taken = body.replace('(1e-10, 1e-4)}', f'(1e-10, 1e-4), "{other}": S.SameAs("{MY}")}}')
    assert tolerance_problems(_folder(tmp_path / "same", taken), {MY, other}) == []


def test_a_same_as_without_a_measured_target_and_a_malformed_entry_fail(tmp_path):
    body = GOOD.replace('(1e-10, 1e-4)}', f'S.SameAs("{MY}")}}')
    assert tolerance_problems(_folder(tmp_path, body), {MY}) == [
        f"{MY}: takes the tolerance of {MY}, which has no (float64, float32) entry here"]
    body = GOOD.replace('(1e-10, 1e-4)}', '1e-10}')
    assert tolerance_problems(_folder(tmp_path / "bad", body), {MY}) == [f"{MY}: 1e-10 is not (float64 tolerance, float32 tolerance)"]


def test_a_comparison_with_the_default_tolerance_fails(tmp_path):
    body = GOOD.replace(', tol=tol("my_forward", x.dtype))', ")")
    problems = tolerance_problems(_folder(tmp_path, body), {MY})
    assert problems == ["mine.py:10: expect_close without a tolerance (pass tol=tol(todo, dtype))"]


def test_the_hidden_checks_keep_the_rules():
    assert tolerance_problems(CHECKS, code_todo_ids()) == []
