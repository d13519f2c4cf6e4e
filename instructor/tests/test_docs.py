"""The documentation holds: its relative links resolve (files and, in Markdown files, heading anchors), and
every command it names in code exists: `make TARGET` is a Makefile target, `coursekit SUBCOMMAND` a
subcommand of coursekit's parser, `python -m MODULE` a module of the repository (or an installed one).

Checked: README.md, CONTRIBUTING.md, docs/*.md and instructor/gradescope/README.md (the instructor README
that `coursekit gradescope` puts in the autograder zip: its commands only, since its links would resolve
inside the zip, not here).
"""

import argparse
import importlib.machinery
import importlib.util
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from coursekit.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
# Folders `python -m` finds the repository's own packages in (the reference tree and instructor/).
MODULE_ROOTS = [REPO, REPO / "instructor"]

FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n(.*?)^ {0,3}\1[`~]*[ \t]*$", re.MULTILINE | re.DOTALL)
# An inline code span, never across a blank line.
SPAN_RE = re.compile(r"(?<!`)(`+)(?!`)((?:(?!\n[ \t]*\n).)+?)(?<!`)\1(?!`)", re.DOTALL)
LINK_RE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^()\s<>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REF_DEF_RE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
HEADING_RE = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
SCHEME_RE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//)")
MAKE_RE = re.compile(r"(?<![\w./-])make\b(?![\w.-])([^\n#;&|`)]*)")
COURSEKIT_RE = re.compile(r"(?<![\w./-])coursekit[ \t]+([A-Za-z][\w-]*)")
PYTHON_M_RE = re.compile(r"(?<![\w./-])python(?:3(?:\.\d+)?)?[ \t]+-m[ \t]+([A-Za-z_][\w.]*)")
MAKEFILE_RULE_RE = re.compile(r"^([^\s:=#][^:=#]*?)[ \t]*::?(?!=)", re.MULTILINE)
MAKE_OPTIONS_WITH_ARG = {"-C", "-f", "-o", "-W", "-I", "--directory", "--file"}


def doc_files():
    docs = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
    return [p for p in docs if p.exists()]


COMMAND_DOCS = [*doc_files(), REPO / "instructor" / "gradescope" / "README.md"]


def code_and_prose(text):
    """(the text inside fenced blocks and inline code spans, the text with them blanked out)."""
    code = []

    def keep(match, group):
        code.append(match.group(group))
        return "\n" * match.group(0).count("\n") if group == 2 and match.re is FENCE_RE else " code "

    prose = FENCE_RE.sub(lambda m: keep(m, 2), text)
    prose = SPAN_RE.sub(lambda m: keep(m, 2), prose)
    return "\n".join(code), prose


def slug(heading):
    """GitHub's anchor of a heading: the text lowercased, punctuation dropped, spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    """The heading anchors of a Markdown file, repeated headings numbered as GitHub does (-1, -2, ...)."""
    text = FENCE_RE.sub("", path.read_text(encoding="utf-8"))
    seen, found = {}, set()
    for match in HEADING_RE.finditer(text):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def link_problems(path, root=REPO):
    """A line per relative link of the Markdown file `path` that names no file under `root`, or no heading."""
    _, prose = code_and_prose(path.read_text(encoding="utf-8"))
    targets = [m.group(1) for m in LINK_RE.finditer(prose)] + [m.group(1) for m in REF_DEF_RE.finditer(prose)]
    problems = []
    for target in targets:
        if not target or SCHEME_RE.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        where = f"{path.relative_to(root)}: link ({target})"
        if not dest.is_relative_to(root.resolve()):
            problems.append(f"{where} leaves the repository")
        elif not dest.exists():
            problems.append(f"{where}: no such file")
        elif anchor and dest.suffix == ".md" and unquote(anchor).lower() not in anchors(dest):
            problems.append(f"{where}: no heading with that anchor in {dest.name}")
    return problems


def makefile_targets(makefile=REPO / "Makefile"):
    targets = set()
    for match in MAKEFILE_RULE_RE.finditer(makefile.read_text(encoding="utf-8")):
        targets.update(match.group(1).split())
    return targets


def coursekit_subcommands():
    """The subcommands of the `coursekit` command, read from its argparse parser."""
    actions = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return {name for action in actions for name in action.choices}


def repo_module(name, roots=MODULE_ROOTS):
    """The spec of module `name` found in the repository's folders only (nothing imported), else None."""
    spec, locations = None, [str(r) for r in roots]
    parts = name.split(".")
    for i in range(len(parts)):
        if locations is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:i + 1]), locations)
        if spec is None:
            return None
        locations = spec.submodule_search_locations
    if spec.submodule_search_locations is not None:  # a package runs as its __main__
        return importlib.machinery.PathFinder.find_spec(name + ".__main__", spec.submodule_search_locations)
    return spec


def module_problem(name, roots=MODULE_ROOTS):
    """Why `python -m name` would fail, or None: a module of the repository's packages must be in the
    repository; any other must be installed."""
    top = name.split(".")[0]
    if repo_module(top, roots) is not None or any((r / top).is_dir() for r in roots):
        return None if repo_module(name, roots) is not None else "not a runnable module of the repository"
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    return None if found else "neither in the repository nor installed"


def command_problems(text, targets, subcommands, roots=MODULE_ROOTS):
    """A line per `make`, `coursekit` or `python -m` command in the code of Markdown `text` that does not exist."""
    code, _ = code_and_prose(text)
    problems = []
    for match in MAKE_RE.finditer(code):
        args, skip = match.group(1).split(), False
        for arg in args:
            if skip or arg.startswith("-") or "=" in arg:
                skip = arg in MAKE_OPTIONS_WITH_ARG
                continue
            if arg not in targets:
                problems.append(f"make {arg}: no such Makefile target")
    for match in COURSEKIT_RE.finditer(code):
        if match.group(1) not in subcommands:
            problems.append(f"coursekit {match.group(1)}: no such subcommand")
    for match in PYTHON_M_RE.finditer(code):
        name = match.group(1).rstrip(".")
        why = module_problem(name, roots)
        if why:
            problems.append(f"python -m {name}: {why}")
    return problems


def test_the_docs_are_found():
    names = {p.relative_to(REPO).as_posix() for p in doc_files()}
    assert {"README.md", "CONTRIBUTING.md", "docs/grading.md", "docs/instructors.md", "docs/notebooks.md",
            "docs/performance.md", "docs/students.md"} <= names


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_links_resolve(doc):
    assert link_problems(doc) == []


@pytest.mark.parametrize("doc", COMMAND_DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_named_commands_exist(doc):
    assert command_problems(doc.read_text(encoding="utf-8"), makefile_targets(), coursekit_subcommands()) == []


def test_the_readme_is_a_front_door():
    """The two commands and links; everything else belongs in docs/."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    code, _ = code_and_prose(text)
    assert re.search(r"^make\b", code, re.MULTILINE) and re.search(r"^make test\b", code, re.MULTILINE)
    assert len(text.splitlines()) <= 80, "README.md is the front door: move the details into docs/"


def test_the_checks_catch_what_they_should(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "other.md").write_text("# Other page\n\n## Same\n\n## Same\n\n### `code` and *stars*: here\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "tool.py").write_text("")
    doc = tmp_path / "docs" / "page.md"
    doc.write_text(
        "# Page\n\n"
        "[ok](../other.md) [ok](../other.md#same-1) [ok](../other.md#code-and-stars-here) [ok](#page)\n"
        "[ok](https://example.org/x.md) [ok](../pkg/tool.py) ![ok](../pkg/)\n"
        "[missing](../nothere.md) [bad anchor](../other.md#same-2) [bad self](#nope) [out](../../x)\n"
        "`[in code](nothere.md)`\n\n"
        "[ref]: ../gone.md\n\n"
        "```bash\nmake        # fine\nmake test CS231N_DATASET=mnist\nmake -C . nosuch\n"
        "coursekit release --out x   # = coursekit nosuch-sub\npython -m pkg.tool\npython3 -m pkg.absent\n"
        "python -m no_such_module_anywhere\npython -m pytest\n```\n\n"
        "Prose that says make sure or coursekit grade is not checked; `python -m pkg` is (no __main__).\n"
    )
    assert link_problems(doc, root=tmp_path) == [
        "docs/page.md: link (../nothere.md): no such file",
        "docs/page.md: link (../other.md#same-2): no heading with that anchor in other.md",
        "docs/page.md: link (#nope): no heading with that anchor in page.md",
        "docs/page.md: link (../../x) leaves the repository",
        "docs/page.md: link (../gone.md): no such file",
    ]
    assert command_problems(doc.read_text(), {"all", "test"}, {"release", "grade"}, roots=[tmp_path]) == [
        "make nosuch: no such Makefile target",
        "coursekit nosuch-sub: no such subcommand",
        "python -m pkg.absent: not a runnable module of the repository",
        "python -m no_such_module_anywhere: neither in the repository nor installed",
        "python -m pkg: not a runnable module of the repository",
    ]


def test_makefile_targets_and_subcommands_are_read_not_listed():
    assert {"all", "test", "setup", "lint", "nbval", "unit", "instructor-tests", "kit-check", "grade-check",
            ".setup-done"} <= makefile_targets()
    assert "FASHION_DIR" not in makefile_targets() and "export" not in makefile_targets()
    assert {"release", "validate", "grade", "grade-batch", "report", "gradescope"} <= coursekit_subcommands()
