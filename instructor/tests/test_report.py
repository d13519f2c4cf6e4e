"""`coursekit report DIR`: the CSV and the HTML report are rebuilt from the per-student results alone."""

import csv
import json

import pytest
from coursekit import cli
from coursekit.course import report
from coursekit.course.report import BATCH_KEY

PNG = b"\x89PNG\r\n\x1a\n"


def write_result(out, name, assignment, scores, status="graded", output="ok"):
    tests = [{"name": todo, "score": got, "max_score": top, "status": "passed" if got == top else "failed",
              "output": "", "visibility": "visible"} for todo, (got, top) in scores.items()]
    data = {"score": sum(got for got, _ in scores.values()), "output": output, "tests": tests,
            "extra_data": {BATCH_KEY: {"submission": f"{name}.zip", "assignment": assignment, "status": status,
                                       "seconds": 1.5}}}
    (out / f"{name}.json").write_text(json.dumps(data))


@pytest.fixture
def batch(tmp_path):
    out = tmp_path / "grades"
    out.mkdir()
    write_result(out, "ann", "assignment1", {"a.py::f": (2, 2), "a.py::g": (3, 3)})
    write_result(out, "bob", "assignment1", {"a.py::f": (2, 2), "a.py::g": (1.5, 3)})
    write_result(out, "cat", "assignment1", {"a.py::f": (0, 2), "a.py::g": (0, 3)})
    write_result(out, "dan", "assignment1", {}, status="error", output="grader error, nothing was graded: boom\nmore")
    write_result(out, "eve", "assignment2", {"b.py::h": (4, 4)})
    (out / "notes.json").write_text('{"not": "a batch result"}')
    (out / "torn.json").write_text('{"tests": [')
    return out


def test_csv_has_a_row_per_submission_and_a_column_per_todo(batch, capsys):
    assert cli.main(["report", str(batch)]) == 0
    assert "report -> " in capsys.readouterr().out
    rows = {r["submission"]: r for r in csv.DictReader((batch / "scores.csv").open())}
    assert sorted(rows) == ["ann.zip", "bob.zip", "cat.zip", "dan.zip", "eve.zip"]
    assert list(rows["ann.zip"])[-3:] == ["a.py::f", "a.py::g", "b.py::h"]
    assert rows["bob.zip"]["a.py::g"] == "1.5" and rows["bob.zip"]["score"] == "3.5" and rows["bob.zip"]["percent"] == "70.0"
    assert rows["dan.zip"]["status"] == "error" and rows["dan.zip"]["error"] == "grader error, nothing was graded: boom"
    assert rows["dan.zip"]["max_score"] == "5" and rows["dan.zip"]["a.py::f"] == ""
    assert rows["eve.zip"]["a.py::f"] == "" and rows["eve.zip"]["b.py::h"] == "4"


def test_todo_stats_count_full_marks_among_graded_only(batch):
    rows = report.load_rows(batch)
    graded = [r for r in rows if r["assignment"] == "assignment1" and r["status"] == "graded"]
    stats = report.todo_stats(graded, ["a.py::f", "a.py::g"])
    assert stats["a.py::f"] == (2, 3, pytest.approx(4 / 3), 2.0)
    assert stats["a.py::g"] == (1, 3, pytest.approx(1.5), 3.0)


def test_html_links_plots_and_results(batch):
    csv_file, index = report.build(batch, csv_path=batch / "out.csv")
    assert csv_file == batch / "out.csv" and csv_file.is_file()
    page = index.read_text()
    for assignment in ("assignment1", "assignment2"):
        for plot in (f"histogram_{assignment}.png", f"todos_{assignment}.png"):
            assert f'src="{plot}"' in page and (index.parent / plot).read_bytes()[:8] == PNG
    assert 'href="../bob.json"' in page and 'href="../out.csv"' in page
    assert "<td>a.py::g</td><td>3</td><td>1/3</td><td>1.50</td>" in page
    assert "3 graded, 1 not graded; score out of 5: mean 2.8, median 3.5, min 0, max 5" in page
    assert "grader error, nothing was graded: boom" in page


def test_empty_or_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path / "nope")]) == 2
    assert "does not exist; pass the --out folder of coursekit grade-batch" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "no grade-batch results" in capsys.readouterr().err


def test_gradebook_export_has_a_row_per_student_and_a_column_per_assignment(tmp_path, capsys):
    one, two = tmp_path / "a1", tmp_path / "a2"
    one.mkdir()
    two.mkdir()
    write_result(one, "a1_1001", "assignment1", {"a.py::f": (2, 2), "a.py::g": (1.5, 3)})
    write_result(one, "a1_1002", "assignment1", {"a.py::f": (0, 2), "a.py::g": (3, 3)})
    write_result(one, "a1_1003", "assignment1", {}, status="error", output="grader error")
    write_result(two, "a2_1001", "assignment2", {"b.py::h": (4, 4)})
    out = tmp_path / "gradebook.csv"
    assert cli.main(["export", str(one), str(two), "--out", str(out)]) == 0
    assert "3 students, 2 columns" in capsys.readouterr().out
    assert out.read_text().splitlines() == ["student_id,assignment1,assignment2", "1001,3.5,4", "1002,3,", "1003,,"]

    assert cli.main(["export", str(one), "--out", str(out), "--format", "canvas", "--todos"]) == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "assignment1",
                       "assignment1: a.py::f", "assignment1: a.py::g"]
    assert rows[1] == ["Points Possible", "", "", "", "", "5", "2", "3"]
    assert rows[2] == ["", "", "1001", "", "", "3.5", "2", "1.5"] and rows[4][2:] == ["1003", "", "", "", "", ""]

    write_result(one, "assignment1-1001", "assignment1", {"a.py::f": (2, 2)})  # the same student twice
    assert cli.main(["export", str(one), "--out", str(out)]) == 2
    assert "are both the assignment1 of student '1001'" in capsys.readouterr().err
    assert cli.main(["export", str(two), "--out", str(out), "--id-pattern", r"^a2_(?P<id>\d{2})"]) == 0
    assert out.read_text().splitlines()[1] == "10,4"
