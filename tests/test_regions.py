import subprocess
import sys

import pytest

from cs231n.regions import END, START, MarkerError, Region, find_regions, owners

SOURCE = f"""import numpy as np


class Model:
    def forward(self, x, w):
        scores = None
        {START}
        scores = x @ w
        {END}
        return scores


def f(x):
    {START}
    # Write the sum here.
    pass

    {END}
    return x


if np is not None:
    def g(x):
        {START}
        y = x
        {END}
        return y
"""


def test_markers_read_exactly_as_in_every_released_file():
    # Students' files hold these lines: changing them would orphan every region already handed out. Each is
    # split in two so that this file holds no marker-like line (the release reads the tests for regions too).
    assert START == "# *****START" + " OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
    assert END == "# *****END" + " OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"


def test_regions_have_their_marker_lines_and_indent():
    regions = find_regions(SOURCE, "m.py")
    assert regions == [Region(6, 8, "        "), Region(13, 17, "    "), Region(23, 25, "        ")]
    assert regions[0].body(SOURCE.splitlines()) == ["        scores = x @ w"]


def test_a_region_holding_only_pass_blank_lines_and_comments_is_a_stub():
    lines = SOURCE.splitlines()
    assert [r.is_stub(lines) for r in find_regions(SOURCE)] == [False, True, False]
    empty = f"{START}\n{END}\n"
    assert find_regions(empty)[0].is_stub(empty.splitlines())


def test_each_region_is_owned_by_the_innermost_function_around_it():
    assert owners(SOURCE, find_regions(SOURCE)) == ["Model.forward", "f", "g"]
    inner = f"def outer():\n    def helper():\n        {START}\n        {END}\n        return 1\n    return helper\n"
    assert owners(inner, find_regions(inner)) == ["outer.helper"]


def test_a_region_outside_every_function_has_no_owner():
    text = f"x = 1\n{START}\nx = 2\n{END}\n"
    assert owners(text, find_regions(text)) == [None]


def test_a_file_that_does_not_parse_raises_syntax_error():
    text = f"def f(:\n    {START}\n    {END}\n"
    with pytest.raises(SyntaxError):
        owners(text, find_regions(text))


MALFORMED = [
    # (text, 1-based line named, words of the message, regions read leniently as (start, end))
    (f"{START}\n{START}\n{END}\n", 2, "START marker inside the region opened at line 1", [(1, 2)]),
    (f"x = 1\n{END}\n", 2, "END marker without a START marker", []),
    (f"def f():\n    {START}\n{END}\n", 3, "indented differently", [(1, 2)]),
    (f"{START}\nx = 1\n", 1, "never closed", []),
    ("# *****START" + " OF YOUR CODE (DO NOT DELETE THIS LINE)*****\n", 1, "malformed marker line", []),
]


@pytest.mark.parametrize("text, line, words, lenient", MALFORMED)
def test_a_malformed_marker_raises_naming_file_and_line(text, line, words, lenient):
    with pytest.raises(MarkerError, match=rf"^m\.py:{line}: .*{words}"):
        find_regions(text, "m.py")


@pytest.mark.parametrize("text, line, words, lenient", MALFORMED)
def test_a_students_text_is_read_without_stopping_on_a_malformed_marker(text, line, words, lenient):
    assert [(r.start, r.end) for r in find_regions(text)] == lenient


def test_the_module_holds_no_marker_line_and_imports_the_standard_library_only():
    import cs231n.regions as regions

    with open(regions.__file__, encoding="utf-8") as f:
        assert find_regions(f.read(), regions.__file__) == []
    code = "import sys, cs231n.regions; sys.exit('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
