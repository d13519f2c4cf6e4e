import pytest
from coursekit.markers import END, START, MarkerError, find_regions, qualnames, stub_text

SOURCE = f"""class Net:
    def loss(self, x):
        out = None
        {START}
        out = x * 2
        {END}
        return out


def f(x):
    {START}
    y = x
    {END}
    return y
"""


def test_regions_are_found_named_and_stubbed():
    regions = find_regions(SOURCE, "m.py")
    assert [(r.start + 1, r.end + 1) for r in regions] == [(4, 6), (11, 13)]
    assert qualnames(SOURCE, regions, "m.py") == ["Net.loss", "f"]
    stubbed = stub_text(SOURCE, regions)
    assert "out = x * 2" not in stubbed and "y = x" not in stubbed
    assert stubbed.count(START) == 2 and stubbed.count(END) == 2
    assert "\n        pass\n" in stubbed and "\n    pass\n" in stubbed
    compile(stubbed, "m.py", "exec")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (f"x = 1\n{START}\ny = 2\n", 2, "never closed"),
        (f"{START}\n{START}\n{END}\n", 2, "cannot nest"),
        (f"a = 1\n{END}\n", 2, "without a START"),
        (f"def f():\n    {START}\n  {END}\n", 3, "indented differently"),
        ("# *****START OF YOUR CODE (DO NOT DELETE THIS LINE)*****\n", 1, "malformed marker"),
    ],
)
def test_malformed_markers_name_file_and_line(text, line, words):
    with pytest.raises(MarkerError, match=rf"^m\.py:{line}: .*{words}"):
        find_regions(text, "m.py")


def test_region_outside_a_function_is_refused():
    text = f"{START}\nx = 1\n{END}\n"
    with pytest.raises(MarkerError, match=r"m\.py:1: region outside any function"):
        qualnames(text, find_regions(text, "m.py"), "m.py")
