"""Notebook IO: read, stub marker regions in code cells, clear outputs, write atomically."""

import re

import nbformat

from ..fsutil import atomic_write_text
from ..markers import MarkerError, find_regions, stub_text

# A graded cell names itself in its source, so a student may delete it and re-create it with the same code.
GRADED_RE = re.compile(r"^[ \t]*# GRADED: ([A-Za-z_][A-Za-z0-9_]*)[ \t]*$", re.MULTILINE)
# The reference notebooks live one folder below the kit root; in a student kit they sit in the root.
_SYS_PATH_PARENT = re.compile(r"""sys\.path\.insert\(\s*0\s*,\s*(['"])\.\.\1\s*\)""")


def read(path):
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as exc:  # nbformat raises JSON, validation and encoding errors alike
        raise ValueError(f"{path}: not a readable notebook ({exc}); open and re-save it in Jupyter") from exc


def write(nb, path):
    atomic_write_text(path, nbformat.writes(nb) + "\n")


def graded_tag(source):
    """The tag of a graded cell (`# GRADED: <tag>` on a line of its source), or None."""
    tags = GRADED_RE.findall(source)
    return tags[0] if len(tags) == 1 else None


def cell_key(cell, index):
    """The stable name of a cell in a TODO id: its `# GRADED:` tag, else its nbformat id or position."""
    return graded_tag(cell.source) or cell.get("id") or f"cell{index}"


def code_regions(nb, where):
    """Yield (index, cell, regions) for each code cell with marker regions."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        regions = find_regions(cell.source, f"{where} [cell {index} id={cell.get('id')}]")
        if regions:
            yield index, cell, regions


def strip_for_release(nb, where, keep=()):
    """Stub every marker region (except in the cells whose key is in `keep`), clear outputs and execution
    counts, point sys.path at the kit root."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            regions = find_regions(cell.source, where)
            if regions and cell_key(cell, index) not in keep:
                cell.source = stub_text(cell.source, regions)
            cell.source = _SYS_PATH_PARENT.sub('sys.path.insert(0, ".")', cell.source)
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        elif find_regions(cell.source, where):
            # Only code cells are stubbed, so a region anywhere else would ship its solution.
            raise MarkerError(f"{where}: a {cell.cell_type} cell holds marker lines; move the region to a code cell")
    return nb
