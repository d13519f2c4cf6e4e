"""Hidden inputs are drawn afresh per grading, yet the same for the same code (issue 19, item 5).

A check draws its random inputs from Tester.rng(n), seeded from a salt (an HMAC of the graded package under
the grader's secret, coursekit/grading/secret.py), the check's name and n. A submission that carries its inputs out
(here: in an exception message) sees the same ones at a regrade of the same code, and others as soon as its
code or the grader's secret changes.
"""

import os
import re
import shutil
import stat

import numpy as np
import pytest
from coursekit.grading import hidden, secret
from grading_support import A1, grader, output_of, set_region, submission
from variants import NEURAL_NET


def _tester(salt, check="cs231n/layers.py::affine_forward::affine_forward_shapes"):
    return hidden.Tester(None, package="cs231n", reference_name="cs231n", modules=(), timeout=1, salt=salt, check=check)


def test_rng_depends_on_salt_check_and_number_only():
    draw = _tester(b"a" * 32).rng(0).standard_normal(5)
    assert np.array_equal(draw, _tester(b"a" * 32).rng(0).standard_normal(5))
    for other in (_tester(b"b" * 32).rng(0), _tester(b"a" * 32, check="other").rng(0), _tester(b"a" * 32).rng(1)):
        assert not np.array_equal(draw, other.standard_normal(5))
    # Without a salt (a Tester made outside a grading) every Tester draws afresh.
    assert not np.array_equal(_tester(None).rng(0).standard_normal(5), _tester(None).rng(0).standard_normal(5))


def test_the_salt_covers_the_code_and_the_secret_but_not_where_it_lies(tmp_path):
    package = tmp_path / "one" / "cs231n"
    (package / "classifiers").mkdir(parents=True)
    (package / "layers.py").write_text("x = 1\n")
    (package / "classifiers" / "cnn.py").write_text("y = 2\n")
    (package / "_ext.so").write_bytes(b"\0binary, not graded code")
    salt = secret.submission_salt(package, b"k" * 32)
    moved = tmp_path / "two" / "cs231n"
    shutil.copytree(package, moved)
    assert secret.submission_salt(moved, b"k" * 32) == salt
    assert secret.submission_salt(package, b"j" * 32) != salt
    (moved / "classifiers" / "cnn.py").write_text("y = 2  # a comment\n")
    assert secret.submission_salt(moved, b"k" * 32) != salt
    (package / "classifiers" / "cnn.py").rename(package / "cnn.py")
    assert secret.submission_salt(package, b"k" * 32) != salt


def test_the_secret_file_is_made_once_readable_by_its_owner_only(tmp_path, monkeypatch):
    path = tmp_path / "state" / "coursekit" / "grader-secret"
    monkeypatch.delenv("COURSEKIT_SECRET", raising=False)
    monkeypatch.setenv("COURSEKIT_SECRET_FILE", str(path))
    first = secret.grader_secret()
    assert len(first) == secret.SECRET_BYTES and secret.grader_secret() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["grader-secret"]
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match=r"readable by it alone.*chmod 600"):
        secret.grader_secret()
    monkeypatch.setenv("COURSEKIT_SECRET", "from the environment")
    assert secret.grader_secret() == b"from the environment"


# predict reports a digest of the X it was given in an exception message, which results.json shows.
REPORTS_ITS_INPUT = """
import hashlib
raise ValueError("seen " + hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest()[:20])
"""


def _seen(results):
    return re.findall(r"seen ([0-9a-f]{20})", output_of(results, "cs231n/classifiers/neural_net.py::TwoLayerNet.predict"))


def test_a_regrade_sees_the_same_inputs_and_changed_code_other_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_SECRET", "the secret of this test")
    sub = submission(tmp_path / "sub", A1)
    set_region(sub / NEURAL_NET, "TwoLayerNet.predict", REPORTS_ITS_INPUT)
    with grader(A1) as g:
        first = _seen(g.grade(sub))
        assert first and _seen(g.grade(sub)) == first
        monkeypatch.setenv("COURSEKIT_SECRET", "another secret")
        assert set(_seen(g.grade(sub))).isdisjoint(first)
        monkeypatch.setenv("COURSEKIT_SECRET", "the secret of this test")
        with open(sub / NEURAL_NET, "a") as fh:
            fh.write("# the same code, one comment more\n")
        assert set(_seen(g.grade(sub))).isdisjoint(first)
