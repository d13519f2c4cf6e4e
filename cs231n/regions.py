"""The grammar of the regions where students write their code, in one place.

A region is the run of lines strictly between a START and an END marker line (the constants START and END
below, each alone on its line, the two indented alike). The TODO a region belongs to is the innermost
function or method around it, named by its qualname (`affine_forward`, `FullyConnectedNet.loss`). A region
is a stub while it holds nothing but `pass`, blank lines and comments.

Three readers share this module: the package's notebook checks (cs231n.checks), `python -m cs231n.collect`
(collectSubmission.sh) and the grader, coursekit, whose coursekit/regions.py is a link to this file. So it
imports the standard library only and runs on every Python the course supports (3.10 and newer).
"""

import ast
import re
from dataclasses import dataclass

# Spelled out in two parts so that this file holds no marker line itself: the grader reads every file of
# the package for regions, and a line naming a marker in any other way is a malformed marker to it.
_MARKER = "# *****{} OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
START, END = _MARKER.format("START"), _MARKER.format("END")
_START_RE = re.compile(r"^([ \t]*)" + re.escape(START) + r"[ \t]*$")
_END_RE = re.compile(r"^([ \t]*)" + re.escape(END) + r"[ \t]*$")
# Anything that looks like a marker but is not exactly one: a marker edited by hand.
_NEAR_RE = re.compile("(START|END)" + re.escape(" OF YOUR CODE (DO NOT"))


class MarkerError(ValueError):
    """A malformed marker; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class Region:
    """One region of a text: the 0-based line indexes of its two marker lines, and their indentation."""

    start: int
    end: int
    indent: str

    def body(self, lines):
        """The lines between the two markers, out of `lines` (the lines of the text the region was found in)."""
        return lines[self.start + 1 : self.end]

    def is_stub(self, lines):
        """True while the region holds nothing but `pass`, blank lines and comments."""
        return all(line.strip() in ("", "pass") or line.strip().startswith("#") for line in self.body(lines))


def find_regions(text, where=None):
    """
    Find the regions of a text, in order.

    Inputs:
    - text: A Python file or a notebook cell's source, as one string
    - where: The text's name for error messages (its path); None reads a student's text, which may be in
      the middle of an edit: a malformed marker is then passed over instead of raising

    Returns a list of Region. With `where`, raises MarkerError naming `where`:line for a malformed marker:
    a START inside a region, an END without a START or indented unlike it, a line that almost reads as a
    marker, a START never closed. Without it, a second START restarts the region, an unmatched END or
    near-marker is an ordinary line, an END indented unlike its START still closes it, and a region left
    open is dropped: the student tools report on work in progress and must never stop on it.
    """
    regions = []
    open_start = None
    indent = ""

    def malformed(index, message):
        if where is not None:
            raise MarkerError(f"{where}:{index + 1}: {message}")

    for i, line in enumerate(text.splitlines()):
        start = _START_RE.match(line)
        end = _END_RE.match(line)
        if start:
            if open_start is not None:
                malformed(i, f"START marker inside the region opened at line {open_start + 1}; "
                             "regions cannot nest: close the first one with an END marker")
            open_start, indent = i, start.group(1)
        elif end:
            if open_start is None:
                malformed(i, "END marker without a START marker before it")
                continue
            if end.group(1) != indent:
                malformed(i, f"END marker indented differently from its START marker at line "
                             f"{open_start + 1}; align the two marker lines")
            regions.append(Region(open_start, i, indent))
            open_start = None
        elif _NEAR_RE.search(line):
            malformed(i, f"malformed marker line {line.strip()!r}; it must read exactly {START!r} or {END!r}")
    if open_start is not None:
        malformed(open_start, "START marker is never closed by an END marker")
    return regions


def owners(text, regions, where="<unknown>"):
    """
    Name the function or method each region of a Python file belongs to.

    Inputs:
    - text: The Python source the regions were found in
    - regions: Its regions (find_regions)
    - where: The file's name for the SyntaxError

    Returns a list with the qualname of the innermost function around each region (`FullyConnectedNet.loss`),
    None for a region outside every function. Raises SyntaxError when the text does not parse.
    """
    spans = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno, child.end_lineno, name))
                visit(child, name + ".")
            else:
                # A def may sit inside an if/try/with block and still be the TODO.
                visit(child, prefix)

    visit(ast.parse(text, filename=where), "")
    names = []
    for region in regions:
        line = region.start + 1
        enclosing = [span for span in spans if span[0] <= line <= span[1]]
        # The innermost function is the one that starts last.
        names.append(max(enclosing, key=lambda span: span[0])[2] if enclosing else None)
    return names
