"""`python instructor/tools/check_sizes.py [FOLDER]`: the size rules of instructor/coursekit (CONTRIBUTING.md).

No module over MAX_MODULE lines; no function over MAX_FUNCTION code lines (lines holding code: not blank, not
only a comment, not a docstring). Prints the largest module and function and every breach; exit status 1 on
a breach.
"""

import ast
import io
import sys
import tokenize
from pathlib import Path

MAX_MODULE = 600
MAX_FUNCTION = 80


def _code_lines(text):
    """The numbers of the lines that hold a token of code (docstrings and comments are not code)."""
    tree = ast.parse(text)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    lines = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type not in skip:
            lines.update(n for n in range(tok.start[0], tok.end[0] + 1) if n not in docstrings)
    return tree, lines


def sizes(folder):
    """([(lines, module)], [(code lines, module:function)]) of the .py files of `folder`."""
    modules, functions = [], []
    for path in sorted(Path(folder).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        modules.append((len(text.splitlines()), path.name))
        tree, code = _code_lines(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                count = sum(1 for n in range(node.lineno, node.end_lineno + 1) if n in code)
                functions.append((count, f"{path.name}:{node.lineno} {node.name}"))
    return sorted(modules, reverse=True), sorted(functions, reverse=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "coursekit"
    modules, functions = sizes(folder)
    print(f"largest module: {modules[0][1]} ({modules[0][0]} lines)")
    print(f"largest function: {functions[0][1]} ({functions[0][0]} code lines)")
    breaches = [f"{name}: {n} lines (at most {MAX_MODULE})" for n, name in modules if n > MAX_MODULE]
    breaches += [f"{name}: {n} code lines (at most {MAX_FUNCTION})" for n, name in functions if n > MAX_FUNCTION]
    for breach in breaches:
        print(f"too large: {breach}")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
