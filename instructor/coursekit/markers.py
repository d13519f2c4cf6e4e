"""Student code regions: find them, name them, stub them.

A region is the run of lines strictly between a START and an END marker line::

    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ...solution...
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

A TODO is what a student implements: all regions of one function (``cs231n/layers.py::affine_forward``,
``cs231n/classifiers/fc_net.py::FullyConnectedNet.loss``) or of one notebook code cell
(``assignment1/two_layer_net.ipynb::<cell id>``).
"""

import ast
import re
from dataclasses import dataclass

START_TEXT = "# *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
END_TEXT = "# *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
_START_RE = re.compile(r"^([ \t]*)" + re.escape(START_TEXT) + r"[ \t]*$")
_END_RE = re.compile(r"^([ \t]*)" + re.escape(END_TEXT) + r"[ \t]*$")
# Anything that looks like a marker but is not exactly one: a student or author who edited it by hand.
_NEAR_RE = re.compile(r"(START|END) OF YOUR CODE \(DO NOT")

# Lines too generic to count as leaked solution (they occur in any code).
_TRIVIAL = {"pass", "else:", "try:", "finally:", "break", "continue", "return", "return None", "...", ")", "]", "}"}
MIN_LEAK_CHARS = 10


class MarkerError(ValueError):
    """A malformed marker; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class Region:
    start: int  # 0-based index of the START line
    end: int  # 0-based index of the END line
    indent: str

    def body(self, lines):
        return lines[self.start + 1 : self.end]


def find_regions(text, where):
    """Return the regions of `text` in order; raise MarkerError naming `where`:line on a malformed marker."""
    regions = []
    open_start = None
    indent = ""
    for i, line in enumerate(text.splitlines()):
        start = _START_RE.match(line)
        end = _END_RE.match(line)
        if start:
            if open_start is not None:
                raise MarkerError(
                    f"{where}:{i + 1}: START marker inside the region opened at line {open_start + 1}; "
                    "regions cannot nest: close the first one with an END marker"
                )
            open_start, indent = i, start.group(1)
        elif end:
            if open_start is None:
                raise MarkerError(f"{where}:{i + 1}: END marker without a START marker before it")
            if end.group(1) != indent:
                raise MarkerError(
                    f"{where}:{i + 1}: END marker indented differently from its START marker at line "
                    f"{open_start + 1}; align the two marker lines"
                )
            regions.append(Region(open_start, i, indent))
            open_start = None
        elif _NEAR_RE.search(line):
            raise MarkerError(
                f"{where}:{i + 1}: malformed marker line {line.strip()!r}; it must read exactly "
                f"{START_TEXT!r} or {END_TEXT!r}"
            )
    if open_start is not None:
        raise MarkerError(f"{where}:{open_start + 1}: START marker is never closed by an END marker")
    return regions


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
    """The enclosing function qualname of each region of a Python file, e.g. ``FullyConnectedNet.loss``."""
    try:
        tree = ast.parse(text, filename=where)
    except SyntaxError as exc:
        raise MarkerError(f"{where}:{exc.lineno}: cannot parse the file: {exc.msg}") from exc
    spans = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno, child.end_lineno, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    names = []
    for r in regions:
        line = r.start + 1
        enclosing = [s for s in spans if s[0] <= line <= s[1]]
        if not enclosing:
            raise MarkerError(
                f"{where}:{line}: region outside any function; put student code inside a function or method"
            )
        # The innermost function is the one that starts last.
        names.append(max(enclosing, key=lambda s: s[0])[2])
    return names
