"""What of a submission's own text may reach a student's results: a small, fixed amount, never raw.

A submission controls the messages of the exceptions its code raises, the names of its exception classes,
files and functions, and the type names of what it returns. Shown verbatim in results.json they would be a
channel of hundreds of characters per check, out of the grader and into the next submission (hidden inputs,
reference outputs). The rule: text a submission controls reaches results.json only through this module —
  - an exception's type name only when it is one of Python's or numpy's own (else "an exception of its own
    class");
  - a location only as `file.py:line in function` with a package path and an identifier of bounded length;
  - a message cut to MAX_MESSAGE characters on one line;
  - and every text the grader shows, its own included, without control or format characters (no terminal
    escapes, no line breaks smuggled into a one-line field, no bidirectional overrides).
An honest student still reads which function, which check, what was wrong, its own error type and line.
Hidden inputs are drawn afresh per grading (hidden.py), so what fits through is no use to the next one.
"""

import builtins
import re
import unicodedata

MAX_MESSAGE = 160
MAX_NAME = 40
MAX_PATH = 60
OWN_CLASS = "an exception of its own class"

# Exception classes a submission cannot define itself: Python's builtins and the ones numpy raises.
KNOWN_EXCEPTIONS = frozenset(
    name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)
) | {"LinAlgError", "AxisError", "ComplexWarning", "UFuncTypeError", "DTypePromotionError", "TooHardError"}
_LOCATION = re.compile(rf"^(?P<path>[A-Za-z0-9_./-]{{1,{MAX_PATH}}}\.py):(?P<line>\d{{1,7}})"
                       rf"(?: in (?P<name>[A-Za-z_][A-Za-z0-9_<>]{{0,{MAX_NAME - 1}}}))?$")
_SPACE = re.compile(r"\s+")


def clean(text, limit=None):
    """`text` on one line, without control or format characters, cut to `limit` characters (with …)."""
    text = "".join(" " if unicodedata.category(ch)[0] in "CZ" and ch != " " else ch for ch in str(text))
    text = _SPACE.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def clean_lines(text):
    """Each line of `text` cleaned (the grader's own multi-line outputs keep their line breaks)."""
    return "\n".join(clean(line) for line in str(text).splitlines())


def exception_type(name):
    """The type name to show for an exception the submission raised."""
    name = str(name)
    return name if name in KNOWN_EXCEPTIONS else OWN_CLASS


def location(where):
    """`cs231n/layers.py:123 in affine_forward` when `where` has that form within bounds, else ''."""
    where = clean(where, MAX_PATH + MAX_NAME + 20)
    return where if _LOCATION.match(where) else ""


def message(text):
    return clean(text, MAX_MESSAGE)

