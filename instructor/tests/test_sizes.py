"""The size rules of coursekit (CONTRIBUTING.md): no module over 600 lines, no function over 80 code lines."""

import importlib.util
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("check_sizes", REPO / "instructor/tools/check_sizes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_coursekit_keeps_its_size_rules(capsys):
    assert _tool().main([]) == 0, capsys.readouterr().out


def test_the_rules_count_code_lines_and_catch_a_breach(tmp_path, capsys):
    tool = _tool()
    body = "\n".join(f"    x{i} = {i}" for i in range(tool.MAX_FUNCTION + 1))
    (tmp_path / "big.py").write_text(f'def big():\n    """A docstring\n    is not code."""\n    # nor a comment\n{body}\n')
    (tmp_path / "small.py").write_text(textwrap.dedent('''
        def small():
            """Docstring."""
            # comment

            return 1
    '''))
    # The def line and the code lines count; the docstring, the comment and the blank line do not.
    _, functions = tool.sizes(tmp_path)
    assert dict((name.split(" ")[1], n) for n, name in functions) == {"big": tool.MAX_FUNCTION + 2, "small": 2}
    assert tool.main([str(tmp_path)]) == 1
    assert "too large: big.py:1 big" in capsys.readouterr().out
