"""What of a submission's own text reaches its results (coursekit.grading.feedback)."""

from coursekit.grading import feedback


def test_control_and_format_characters_never_pass():
    text = "ok\x1b[31mred\x1b[0m\r\nnext\tline\u202eevil\u200bzero\x00end\x85"
    cleaned = feedback.clean(text)
    assert cleaned == "ok [31mred [0m next line evil zero end"
    assert all(ch.isprintable() for ch in cleaned)
    assert feedback.clean_lines("a\x07\nb\x1b") == "a\nb"


def test_messages_are_cut_to_a_fixed_length():
    assert feedback.message("x" * 10_000) == "x" * (feedback.MAX_MESSAGE - 1) + "…"
    assert feedback.message("  short   message ") == "short message"


def test_only_known_exception_types_are_named():
    for name in ("ValueError", "IndexError", "RecursionError", "LinAlgError", "AxisError", "ZeroDivisionError"):
        assert feedback.exception_type(name) == name
    for name in ("MyError", "ValueError2", "A" * 300, "ValueError\nfake"):
        assert feedback.exception_type(name) == feedback.OWN_CLASS


def test_locations_keep_their_form_and_bounds():
    assert feedback.location("cs231n/layers.py:123 in affine_forward") == "cs231n/layers.py:123 in affine_forward"
    assert feedback.location("cs231n/layers.py:9") == "cs231n/layers.py:9"
    for where in ("cs231n/layers.py:123 in " + "f" * 200, "x" * 200 + ".py:1", "cs231n/layers.py:1 in a b c",
                  "see http://example.org", "cs231n/layers.py:12345678901 in f"):
        assert feedback.location(where) == ""
