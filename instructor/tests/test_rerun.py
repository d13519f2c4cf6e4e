"""`coursekit grade --notebooks`: the submitted notebooks re-run with nbval in the sandbox, reported in
results.json's output and worth no points."""

import nbformat
import pytest
from grading_support import A1, grade_in_mode, scores, submission
from test_sandbox import needs_namespaces


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)


@needs_namespaces
@pytest.mark.parametrize("cells, outcome", [
    (("from cs231n.classifiers.neural_net import TwoLayerNet", "print(sum(range(4)))"), "2 passed"),
    (("from cs231n.classifiers.neural_net import TwoLayerNet", "raise ValueError('my bug')"), "1 failed, 1 passed"),
])
def test_notebooks_rerun_in_the_sandbox_report_nbval_and_score_nothing(tmp_path, cells, outcome):
    sub = submission(tmp_path / "sub", A1, solved=[])
    _notebook(sub / "two_layer_net.ipynb", *cells)
    results = grade_in_mode(sub, A1, "namespaces", notebooks=True, jobs=1)
    assert f"notebooks re-run with nbval (no points): {outcome}" in results["output"], results["output"]
    assert sum(scores(results).values()) == 0
