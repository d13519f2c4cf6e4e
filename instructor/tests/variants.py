"""Edits that turn a reference submission into a variant, for test_honest.py and test_wrong.py (not a test module).

A variant is a list of edits, each one (file, function, region, code): the body of region number `region`
of `function` (a qualified name) in `file` is replaced by `code`. An edit whose region is None replaces
given code instead: `code` is a pair (old, new) and the first `old` after `def function` becomes `new`; an
edit whose function is None adds module-level code after the file's `import numpy as np`.
"""

import textwrap
from pathlib import Path

from grading_support import set_region

LAYERS = "cs231n/layers.py"
OPTIM = "cs231n/optim.py"
FC_NET = "cs231n/classifiers/fc_net.py"
CNN = "cs231n/classifiers/cnn.py"
NEURAL_NET = "cs231n/classifiers/neural_net.py"


def apply(sub, edits):
    """Apply `edits` to the submission folder `sub`."""
    for file, function, region, code in edits:
        path = Path(sub) / file
        if function is None:
            text = path.read_text()
            anchor = "import numpy as np\n"
            assert anchor in text, f"{file} has no numpy import to add code after"
            path.write_text(text.replace(anchor, anchor + "\n" + textwrap.dedent(code).strip("\n") + "\n", 1))
        elif region is None:
            old, new = code
            text = path.read_text()
            name = function.rsplit(".", 1)[-1]
            owner = function.rsplit(".", 1)[0] if "." in function else None
            start = text.index(f"class {owner}") if owner else 0
            start = text.index(f"def {name}(", start)
            at = text.index(old, start)
            path.write_text(text[:at] + new + text[at + len(old):])
        else:
            set_region(path, function, code, region)
