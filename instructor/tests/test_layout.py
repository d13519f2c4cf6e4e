"""coursekit's folders are the stages data flows through (CONTRIBUTING.md, "Layout"): a stage imports the
shared top-level modules and the stages before it, never one after it, and no modules import each other in a
cycle. Read from the module-level imports with ast, so a new module is checked without being listed."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "coursekit"

# What each stage may import besides itself. The shared top level is the foundation every stage stands on;
# of it, only the command line (cli.py, which dispatches to every stage) and the reference tree (reference.py,
# which reads notebooks) reach into stages.
MAY_IMPORT = {
    "notebooks": {"top"},
    "sandbox": {"top"},
    "authoring": {"top", "notebooks"},
    "grading": {"top", "notebooks", "sandbox", "authoring"},
    "course": {"top", "notebooks", "sandbox", "authoring", "grading"},
}
TOP_INTO_STAGES = {"coursekit.cli", "coursekit.reference"}


def _modules():
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name, path, modules):
    """The coursekit modules `name` imports at module level."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in modules and m != name}


def _stage(name):
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in MAY_IMPORT) else "top"


def _graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_every_folder_is_a_known_stage():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(MAY_IMPORT)


def test_stages_import_only_the_stages_before_them():
    wrong = []
    for name, targets in _graph().items():
        stage = _stage(name)
        for target in targets:
            other = _stage(target)
            if other == stage or other == "top":
                continue
            allowed = stage == "top" and name in TOP_INTO_STAGES or other in MAY_IMPORT.get(stage, ())
            if not allowed:
                wrong.append(f"{name} ({stage}) imports {target} ({other})")
    assert not wrong, "\n".join(wrong)


def test_no_modules_import_each_other_in_a_cycle():
    graph = _graph()
    done, cycles = set(), []

    def visit(name, path):
        for target in sorted(graph[name]):
            if target in path:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in done:
                visit(target, path + [target])
        done.add(name)

    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    assert not cycles, "\n".join(cycles)
