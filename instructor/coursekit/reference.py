"""The reference tree: where it is, its config, and every student region in it."""

import hashlib
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from . import config as config_mod
from .markers import MarkerError, find_regions, qualnames
from .notebooks import nbio as notebooks

CONFIG_REL = "instructor/grading.toml"
# Never part of a kit or a submission: build products, caches, editor and notebook leftovers.
JUNK_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache", ".venv", "build", "dist"}
DATASET_SCRIPT_SUFFIXES = {".sh", ".py", ".md", ".txt"}
JUNK_SUFFIXES = {".so", ".pyd", ".o", ".c", ".pyc", ".html", ".egg-info"}


def is_junk(rel):
    parts = Path(rel).parts
    return any(p in JUNK_DIRS or p.endswith(".egg-info") for p in parts) or Path(rel).suffix in JUNK_SUFFIXES


def _is_data(rel_in_package):
    """Downloaded data sets never ship; the scripts and notes beside them do."""
    if "datasets" not in rel_in_package.parts[:-1]:
        return False
    return not (rel_in_package.name == ".gitkeep" or rel_in_package.suffix in DATASET_SCRIPT_SUFFIXES)


def find_root(root=None):
    """The reference tree: `root` if given, else $COURSEKIT_ROOT, else the nearest ancestor of the cwd with
    instructor/grading.toml."""
    if root is None:
        root = os.environ.get("COURSEKIT_ROOT")
    if root is not None:
        root = Path(root).resolve()
        if not (root / CONFIG_REL).is_file():
            raise FileNotFoundError(f"{root} is not a reference tree: {CONFIG_REL} is missing there")
        return root
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_REL).is_file():
            return candidate
    raise FileNotFoundError(
        f"no reference tree found from {here}: run inside it, pass --root, or set COURSEKIT_ROOT"
    )


@dataclass(frozen=True)
class Piece:
    """One region of solution code."""

    todo_id: str
    file: str  # relative to the reference root
    line: int  # 1-based line of the START marker (in the cell, for notebooks)
    body: tuple


class Reference:
    def __init__(self, root=None, config_path=None):
        self.root = find_root(root)
        self.config = config_mod.load(config_path or self.root / CONFIG_REL)
        self.package_dir = self.root / self.config.package
        if not self.package_dir.is_dir():
            raise FileNotFoundError(f"package folder {self.package_dir} is missing; check [course] package")

    def load_package(self):
        """Import the reference package into the grader under a private name; return that name.

        The package's modules import each other relatively, so it works under any name, and a `cs231n`
        installed elsewhere (a student kit, say) can never stand in for it."""
        digest = hashlib.sha1(str(self.package_dir).encode()).hexdigest()[:10]
        name = f"_coursekit_reference_{digest}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(
                name, self.package_dir / "__init__.py", submodule_search_locations=[str(self.package_dir)]
            )
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        return name

    def package_modules(self):
        """Dotted module names of the package relative to it: 'layers', 'classifiers.fc_net', ..."""
        out = []
        for rel in self.package_files():
            if rel.endswith(".py"):
                parts = Path(rel).with_suffix("").parts[1:]
                if parts and parts[-1] == "__init__":
                    parts = parts[:-1]
                if parts:
                    out.append(".".join(parts))
        return out

    def package_files(self):
        """Shipped package files, relative to the root, sorted."""
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.package_dir.rglob("*")
            if p.is_file() and not is_junk(p.relative_to(self.root)) and not _is_data(p.relative_to(self.package_dir))
        )

    def public_test_files(self):
        tests = self.root / self.config.public_tests
        if not tests.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in tests.rglob("*") if p.is_file() and not is_junk(p))

    def notebooks(self, assignment):
        """Notebook paths of an assignment, relative to the root."""
        out = []
        for name in self.config.assignments[assignment]:
            rel = f"{assignment}/{name}"
            if not (self.root / rel).is_file():
                raise FileNotFoundError(f"notebook {rel} listed in {self.config.path} is missing from {self.root}")
            out.append(rel)
        return out

    def all_notebooks(self):
        return [nb for a in self.config.assignments for nb in self.notebooks(a)]

    def pieces(self):
        """Every solution region of the package and the notebooks, with its TODO id."""
        out = []
        for rel in self.package_files():
            if not rel.endswith(".py"):
                continue
            text = (self.root / rel).read_text(encoding="utf-8")
            regions = find_regions(text, rel)
            if not regions:
                continue
            lines = text.splitlines()
            for region, name in zip(regions, qualnames(text, regions, rel)):
                out.append(Piece(f"{rel}::{name}", rel, region.start + 1, tuple(region.body(lines))))
        for rel in self.all_notebooks():
            nb = notebooks.read(self.root / rel)
            for index, cell, regions in notebooks.code_regions(nb, rel):
                lines = cell.source.splitlines()
                todo_id = f"{rel}::{notebooks.cell_key(cell, index)}"
                for region in regions:
                    out.append(Piece(todo_id, rel, region.start + 1, tuple(region.body(lines))))
        return out

    def todo_files(self):
        """Files holding at least one region: the files a submission is graded on."""
        return sorted({p.file for p in self.pieces()})

    def check_config_covers(self, pieces=None):
        """Every region belongs to a configured TODO and every configured TODO exists; raise otherwise."""
        pieces = self.pieces() if pieces is None else pieces
        found = {p.todo_id for p in pieces}
        configured = {t.id for t in self.config.todos}
        problems = [f"region {p.file}:{p.line} ({p.todo_id}) has no [[todo]] entry" for p in pieces if p.todo_id not in configured]
        problems += [f"[[todo]] {t} matches no region in the reference tree" for t in sorted(configured - found)]
        if problems:
            raise config_mod.ConfigError(f"{self.config.path}: " + "; ".join(dict.fromkeys(problems)))


__all__ = ["MarkerError", "Piece", "Reference", "find_root", "is_junk"]
