"""Student code regions as the grader reads them: find them, name them, stub them.

The grammar is the student package's, cs231n/regions.py (linked here as regions.py): a region is the run of
lines strictly between a START and an END marker line, owned by the innermost function around it. So the
notebook checks, collectSubmission and the grader cannot disagree on what a region is. This module reads
regions strictly (a malformed marker stops the build or the grading with file:line) and adds what only the
grader needs: stubbing and the leak scan's view of the lines.

A TODO is what a student implements: all regions of one function (``cs231n/layers.py::affine_forward``,
``cs231n/classifiers/fc_net.py::FullyConnectedNet.loss``) or of one notebook code cell
(``assignment1/two_layer_net.ipynb::<cell id>``).
"""

from .regions import END, START, MarkerError, Region, find_regions, owners

__all__ = [
    "END", "MIN_LEAK_CHARS", "START", "MarkerError", "Region", "find_regions", "is_significant", "normalize",
    "outside_lines", "qualnames", "stub_text",
]

# Lines too generic to count as leaked solution (they occur in any code).
_TRIVIAL = {"pass", "else:", "try:", "finally:", "break", "continue", "return", "return None", "...", ")", "]", "}"}
MIN_LEAK_CHARS = 10


def stub_text(text, regions):
    """Return `text` with each region's body replaced by `pass` at the marker's indentation."""
    lines = text.splitlines()
    out = []
    pos = 0
    for r in regions:
        out.extend(lines[pos : r.start + 1])
        out.extend(["", f"{r.indent}pass", ""])
        pos = r.end
    out.extend(lines[pos:])
    trailing = "\n" if text.endswith("\n") else ""
    return "\n".join(out) + trailing


def outside_lines(text, regions):
    """Lines of `text` that lie outside every region (markers included)."""
    lines = text.splitlines()
    inside = set()
    for r in regions:
        inside.update(range(r.start + 1, r.end))
    return [line for i, line in enumerate(lines) if i not in inside]


def normalize(line):
    """Canonical form of a line for the leak scan: no comment-only lines, whitespace collapsed."""
    stripped = " ".join(line.split())
    if stripped.startswith("#"):
        return ""
    return stripped


def is_significant(norm):
    return len(norm) >= MIN_LEAK_CHARS and norm not in _TRIVIAL


def qualnames(text, regions, where):
    """The enclosing function qualname of each region of a Python file, e.g. ``FullyConnectedNet.loss``;
    raise MarkerError naming `where`:line for a file that does not parse or a region outside any function."""
    try:
        names = owners(text, regions, where)
    except SyntaxError as exc:
        raise MarkerError(f"{where}:{exc.lineno}: cannot parse the file: {exc.msg}") from exc
    for region, name in zip(regions, names):
        if name is None:
            raise MarkerError(
                f"{where}:{region.start + 1}: region outside any function; put student code inside a function or method"
            )
    return names
