"""Static import closure: which files of the reference tree a set of Python sources needs, found with ast.

Only absolute and relative `import` / `from ... import` statements count, anywhere in a file (inside
functions and try blocks too, so an optional import is followed). Names are resolved to files under the
tree's root: `a/b.py`, `a/b/__init__.py`, or `a/b.pyx` for a compiled extension (shipped as its source,
not parsed). A module's parent packages come with it (their `__init__.py`).
"""

import ast
from pathlib import Path


class ImportScanError(ValueError):
    """A source that cannot be parsed; the message names the file."""


def module_name(rel):
    """`cs231n/classifiers/cnn.py` -> ("cs231n.classifiers.cnn", False); `pkg/__init__.py` -> ("pkg", True)."""
    parts = list(Path(rel).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def module_file(root, name, search=("",)):
    """The root-relative file defining module `name` (tried under each folder of `search`), or None."""
    for folder in search:
        base = Path(root, folder, *name.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py", base.with_suffix(".pyx")):
            if candidate.is_file():
                return candidate.relative_to(root).as_posix()
    return None


def imported_names(source, where, module="", is_package=False):
    """Absolute names `source` may import: for `from a import b` both `a` and `a.b` (b may be a module)."""
    try:
        tree = ast.parse(source, filename=where)
    except SyntaxError as exc:
        raise ImportScanError(f"{where}:{exc.lineno}: cannot parse ({exc.msg}); fix the code") from exc
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                parent = package[: len(package) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return [name for name in names if name]


def closure(root, sources, keep):
    """
    Files of the tree under `root` that `sources` reach through imports, followed transitively.

    Inputs:
    - root: The tree's root folder
    - sources: Iterable of (text, where, module name, is_package, search folders) to start from
    - keep: Function rel -> bool: whether a resolved file belongs to the closure (e.g. inside the package)

    Returns the sorted list of root-relative files reached (the starting sources excluded).
    """
    found = set()
    queue = list(sources)
    while queue:
        text, where, module, is_package, search = queue.pop()
        for name in imported_names(text, where, module, is_package):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):
                rel = module_file(root, ".".join(parts[:depth]), search)
                if rel is None or rel in found or not keep(rel):
                    continue
                found.add(rel)
                if rel.endswith(".py"):
                    mod, pkg = module_name(rel)
                    queue.append((Path(root, rel).read_text(encoding="utf-8"), rel, mod, pkg, ("",)))
    return sorted(found)
