"""Leak scans of a kit: no solution may ship, neither as its lines nor as a copy with other names.

- Line scan: every significant solution line (normalised, not also found outside the regions of the
  reference) is looked up in every file of the kit, notebooks by cell source and output.
- Structural scan: each solution region of the assignment becomes a sequence of normalised tokens
  (identifiers and strings abstracted, keywords, operators and numbers kept, indentation changes kept);
  every window of WINDOW tokens spanning at least MIN_STATEMENTS statements is looked up in the same
  sequences of every Python file and notebook code cell of the kit. A copy of a solution with renamed
  variables, or given code that repeats a solution's steps, matches; a single long statement or a
  two-line idiom does not. Lines of a region that repeat given code of the region's own file verbatim
  are left out of its windows: the function beside it shows them already (a shared prologue).
"""

import io
import json
import keyword
import textwrap
import tokenize
from pathlib import Path

from ..markers import find_regions, is_significant, normalize, outside_lines
from ..notebooks import nbio as notebooks

WINDOW = 40
MIN_STATEMENTS = 3
_SKIPPED = {tokenize.NL, tokenize.COMMENT, tokenize.ENCODING, tokenize.ENDMARKER}
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)  # Python >= 3.12 splits f-strings into tokens
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)
_GAP = ("|", 0)  # a left-out line: no window spans it


def public_lines(ref):
    """Normalised lines of code the kit gives away anyway: everything outside the regions."""
    public = set()
    files = ref.package_files() + ref.public_test_files() + list(ref.config.kit_files)
    for rel in files:
        path = ref.root / rel
        if path.suffix == ".ipynb" or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        regions = find_regions(text, rel) if rel.endswith(".py") else []
        public.update(normalize(line) for line in outside_lines(text, regions))
    for rel in ref.all_notebooks():
        for cell in notebooks.read(ref.root / rel).cells:
            regions = find_regions(cell.source, rel) if cell.cell_type == "code" else []
            public.update(normalize(line) for line in outside_lines(cell.source, regions))
    return public


def _text_lines(path):
    """(line number, text) pairs a person could read in the file; notebooks by cell source and output."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        for index, cell in enumerate(nb.get("cells", [])):
            chunks = [cell.get("source", "")]
            for output in cell.get("outputs", []):
                chunks.append(output.get("text", ""))
                chunks.extend(v for v in output.get("data", {}).values() if isinstance(v, str | list))
            for chunk in chunks:
                text = "".join(chunk) if isinstance(chunk, list) else chunk
                for i, line in enumerate(text.splitlines()):
                    yield f"cell {index} line {i + 1}", line
        return
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = path.read_bytes().decode("latin-1")
    for i, line in enumerate(text.splitlines()):
        yield str(i + 1), line


def line_leaks(kit_dir, pieces, public):
    """Every place in the kit where a significant solution line appears, as 'file:line: ...' strings."""
    secret = {}
    for piece in pieces:
        for offset, line in enumerate(piece.body):
            norm = normalize(line)
            if is_significant(norm) and norm not in public:
                secret.setdefault(norm, f"{piece.file}:{piece.line + 1 + offset} ({piece.todo_id})")
    findings = []
    for path in sorted(p for p in Path(kit_dir).rglob("*") if p.is_file()):
        for where, line in _text_lines(path):
            origin = secret.get(normalize(line))
            if origin:
                rel = path.relative_to(kit_dir).as_posix()
                findings.append(f"{rel}:{where}: solution line {line.strip()!r} from {origin}")
    return findings


def shape_tokens(text, first_line=1, left_out=()):
    """
    The normalised token sequence of Python source `text` as (token, line) pairs.

    Inputs:
    - text: Source code; it may stop mid-block (a region body), what cannot be tokenized ends the sequence
    - first_line: Line number of the text's first line in its file
    - left_out: Line numbers (of the text, 1-based) to replace by one gap marker
    """
    out = []
    fstring_depth = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in _SKIPPED:
                continue
            if tok.start[0] in left_out:
                if not out or out[-1] != _GAP:
                    out.append(_GAP)
                continue
            if tok.type == _FSTRING_START:
                fstring_depth += 1
                if fstring_depth == 1:
                    out.append(("S", tok.start[0] + first_line - 1))
                continue
            if tok.type == _FSTRING_END:
                fstring_depth -= 1
                continue
            if fstring_depth:
                continue
            if tok.type == tokenize.NAME:
                kind = tok.string if keyword.iskeyword(tok.string) else "$"
            elif tok.type == tokenize.STRING:
                kind = "S"
            elif tok.type == tokenize.NEWLINE:
                kind = ";"
            elif tok.type == tokenize.INDENT:
                kind = ">"
            elif tok.type == tokenize.DEDENT:
                kind = "<"
            else:
                kind = tok.string
            out.append((kind, tok.start[0] + first_line - 1))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def _windows(tokens):
    """(window, index) for every WINDOW-token run of `tokens` without a gap and with enough statements."""
    kinds = [kind for kind, _ in tokens]
    for i in range(len(kinds) - WINDOW + 1):
        window = tuple(kinds[i : i + WINDOW])
        if window.count(";") >= MIN_STATEMENTS and _GAP[0] not in window:
            yield window, i


def _region_tokens(ref, piece):
    """Tokens of a solution region, leaving out lines that its own file's given code holds verbatim."""
    given = set()
    if piece.file.endswith(".py"):
        text = (ref.root / piece.file).read_text(encoding="utf-8")
        given = {normalize(line) for line in outside_lines(text, find_regions(text, piece.file))} - {""}
    left_out = {i + 1 for i, line in enumerate(piece.body) if normalize(line) in given}
    body = textwrap.dedent("\n".join(piece.body)) + "\n"
    return shape_tokens(body, piece.line + 1, left_out)


def _kit_sources(kit_dir):
    """(where, tokens) for every Python file and notebook code cell of the kit."""
    for path in sorted(Path(kit_dir).rglob("*")):
        rel = path.relative_to(kit_dir).as_posix()
        if path.suffix == ".py":
            yield rel, shape_tokens(path.read_text(encoding="utf-8"))
        elif path.suffix == ".ipynb":
            for index, cell in enumerate(notebooks.read(path).cells):
                if cell.cell_type == "code":
                    # IPython magics and shell escapes are not Python; blank them, keeping line numbers.
                    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines()]
                    yield f"{rel} [cell {index}]", shape_tokens("\n".join(lines) + "\n")


def structural_leaks(ref, kit_dir, pieces):
    """Every span of kit code that repeats a window of a solution region's token shape, naming both places."""
    index = {}
    for piece in pieces:
        tokens = _region_tokens(ref, piece)
        for window, i in _windows(tokens):
            index.setdefault(window, (piece, tokens[i][1], tokens[i + WINDOW - 1][1]))
    spans = {}
    for where, tokens in _kit_sources(kit_dir):
        for window, i in _windows(tokens):
            hit = index.get(window)
            if hit is None:
                continue
            piece, first, last = hit
            key = (where, piece.todo_id)
            lo, hi, src_lo, src_hi = spans.get(key, (tokens[i][1], tokens[i + WINDOW - 1][1], first, last))
            spans[key] = (min(lo, tokens[i][1]), max(hi, tokens[i + WINDOW - 1][1]), min(src_lo, first), max(src_hi, last))
    findings = []
    for (where, todo_id), (lo, hi, src_lo, src_hi) in sorted(spans.items()):
        source = todo_id.split("::", 1)[0]
        findings.append(
            f"{where}:{lo}-{hi}: repeats, names aside, the code of the solution at {source}:{src_lo}-{src_hi} "
            f"({todo_id}); rewrite the given code so it does not mirror the solution"
        )
    return findings
