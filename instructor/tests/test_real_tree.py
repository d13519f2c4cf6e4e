"""The real reference tree (cheap checks): both kits build, the leak scan is clean, the stubbed package
imports, every region has a grading entry, and every configured hidden test exists. The expensive checks
(grading the reference, the release and one solved TODO) run in `make grade-check`."""

import ast
from pathlib import Path

import nbformat
import pytest
from coursekit.authoring.release import public_lines, release_assignment
from coursekit.grading.hidden import load_checks
from coursekit.markers import START
from coursekit.reference import Reference

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ref():
    return Reference(REPO)


@pytest.fixture(scope="module")
def kits(ref, tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    pieces, public = ref.pieces(), public_lines(ref)
    return {a: release_assignment(ref, a, out, pieces, public) for a in ref.config.assignments}


def test_every_region_is_graded(ref):
    ref.check_config_covers()


def test_kits_hold_stubs_and_no_instructor_files(ref, kits):
    for assignment, kit in kits.items():
        files = {p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()}
        assert not [f for f in files if f.startswith("instructor") or f.endswith((".so", ".c", ".pyc"))]
        assert {"README.md", "setup.py", "requirements.txt", "collectSubmission.sh", "get_datasets.sh"} <= files
        # What collectSubmission.sh runs: the collector and the region grammar it reads.
        assert {"cs231n/collect.py", "cs231n/regions.py"} <= files
        for name in ref.config.assignments[assignment]:
            nb = nbformat.read(kit / name, as_version=4)
            assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
        for rel in {t.path for t in ref.config.todos_for(assignment) if not t.is_notebook}:
            text = (kit / rel).read_text()
            assert text.count(START) == (REPO / rel).read_text().count(START)
            ast.parse(text)
        assert (kit.parent / f"{assignment}.zip").is_file()


def test_configured_tests_exist(ref):
    for todo in ref.config.todos:
        for node in todo.public:
            path, _, name = node.partition("::")
            assert f"def {name.split('[')[0]}(" in (REPO / path).read_text(), f"{todo.id}: {node} not found"
    checked = {spec.todo for spec in load_checks(REPO / ref.config.hidden_tests)}
    unchecked = [t.id for t in ref.config.todos if not t.is_notebook and t.id not in checked]
    assert not unchecked, f"code TODOs without a hidden check: {unchecked}"
