"""GradeOptions: the one record of `coursekit grade`'s options, and the command line it renders."""

import dataclasses

import pytest
from coursekit import cli
from coursekit.grading.options import DEFAULTS, GradeOptions

# A value other than its default for every field: a round trip through the real parser must give each back.
EVERY = GradeOptions(submission="s.zip", results="r.json", root="/ref", config="/ref/g.toml", base="/kit",
                     assignment="assignment2", isolation="uid", worker_python="/usr/bin/python3", worker_uid_base=47100,
                     jobs=3, test_timeout=1.5, todos=("a.py::f", "b.py::g"), previous="old.json", notebooks=True,
                     require_isolation=True)


def parsed(options):
    return GradeOptions.from_args(cli.build_parser().parse_args(options.argv()))


def test_every_field_is_covered_and_survives_the_cli():
    assert all(getattr(EVERY, name) != default for name, default in DEFAULTS.items())
    assert parsed(EVERY) == EVERY


@pytest.mark.parametrize("name", sorted(set(DEFAULTS) - {"submission", "results"}))
def test_each_option_alone_survives_the_cli(name):
    one = GradeOptions(submission="s", results="r", **{name: getattr(EVERY, name)})
    expected = one if name != "previous" else dataclasses.replace(one, previous=None)  # --previous only with --todos
    assert parsed(one) == expected


def test_defaults_are_the_cli_defaults_and_render_nothing():
    options = GradeOptions(submission="s")
    assert options.argv() == ["grade", "s", "--results", "results.json"]
    assert parsed(options) == options


def test_paths_are_text_and_the_autograder_command_keeps_its_order(tmp_path):
    assert GradeOptions(submission=tmp_path, base=tmp_path / "kit").base == str(tmp_path / "kit")
    grade = GradeOptions(submission="SUBMISSION", results="RESULTS", assignment="a1", isolation="uid",
                         require_isolation=True, root="REFERENCE", base="BASE_KIT")
    assert grade.argv() == ["grade", "SUBMISSION", "--results", "RESULTS", "--root", "REFERENCE", "--base", "BASE_KIT",
                            "--assignment", "a1", "--isolation", "uid", "--require-isolation"]
