"""LMS export (``python -m autograder export``), on grade-all output folders written by hand: Canvas's gradebook
import format (header, Points Possible row, numbers, quoting), the plain CSV, the roster's checks, and nobody
dropped or zeroed silently."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from autograder import grades, lms
from autograder.cli import main

MAXIMA = {"Q5": 2.0, "Q13": 5.0}


def write_run(folder: Path, students: dict[str, tuple[str, dict[str, float] | None, str]],
              maxima: dict[str, float] = MAXIMA) -> Path:
    """A grade-all output folder: ``{student: (status, {question: score} or None when not graded, reason)}`` ->
    ``folder/grades.csv`` and ``folder/<student>/results.json``, as bulk.py writes them."""
    rows = []
    for student, (status, scores, reason) in students.items():
        tests = [{"name": f"{q} title", "score": s, "max_score": maxima[q]} for q, s in (scores or {}).items()]
        results = {"score": sum(t["score"] for t in tests), "tests": tests,
                   "extra_data": {"status": status, "reason": reason}}
        if scores is not None:
            results["extra_data"]["max_score"] = sum(maxima[q] for q in scores)
        (folder / student).mkdir(parents=True)
        (folder / student / "results.json").write_text(json.dumps(results))
        row = {"student": student, **{q: f"{s:g}" for q, s in (scores or {}).items()}}
        row.update(total="" if scores is None else f"{results['score']:g}", status=status, reason=reason)
        rows.append(row)
    grades.write(folder / grades.FILE, rows)
    return folder


CLASS = {
    "alice": ("graded", {"Q5": 2, "Q13": 5}, ""),
    "bob": ("graded", {"Q5": 1.333333, "Q13": 2}, ""),
    "carol": ("not graded", None, "a zygote died twice"),
    "dave": ("flagged", {"Q5": 0, "Q13": 0}, "no submission found: the folder holds no seq2seq/ package"),
    "erin": ("graded", {"Q5": 2, "Q13": 4.5}, ""),  # not in the roster
}
ROSTER = ('folder,id,name,sis_user_id,sis_login_id,section\n'
          'alice,1001,"Liddell, Alice",S1,alice@uni,Sec A\n'
          'bob,1002,"Bob ""The Builder"" Smith",S2,bob@uni,Sec B\n'
          'carol,1003,Carol,S3,carol@uni,Sec A\n'
          'dave,1004,Dave,S4,dave@uni,Sec B\n'
          'frank,1006,Frank,S6,frank@uni,Sec A\n')  # frank: no graded folder


@pytest.fixture
def run(tmp_path):
    write_run(tmp_path / "out", CLASS)
    (tmp_path / "roster.csv").write_text(ROSTER)
    return tmp_path


def test_canvas_file_is_a_gradebook_import(run):
    _, flags, _ = lms.export(run / "out", roster=run / "roster.csv", canvas=run / "canvas.csv",
                             assignment="Seq2seq", assignment_id="4711")
    lines = (run / "canvas.csv").read_text().splitlines()
    assert lines[0] == "Student,ID,SIS User ID,SIS Login ID,Section,Seq2seq (4711)"
    assert lines[1] == "Points Possible,,,,,7", "points possible: the graded questions' maxima, 2 + 5"
    assert lines[2] == '"Liddell, Alice",1001,S1,alice@uni,Sec A,7', "a name with a comma is quoted"
    assert lines[3] == '"Bob ""The Builder"" Smith",1002,S2,bob@uni,Sec B,3.3333', "quotes doubled, 4 decimals"
    rows = {r[1]: r[5] for r in csv.reader(lines[2:])}
    assert rows == {"1001": "7", "1002": "3.3333", "1003": "", "1004": "0", "1006": "0"}, \
        "not graded: blank (never 0); flagged: its score; missing: 0; not in the roster: absent"
    assert flags == run / "export-flags.csv"


def test_canvas_title_without_id_and_its_refusals(run):
    lms.export(run / "out", roster=run / "roster.csv", canvas=run / "c.csv", assignment="HW 3: attention")
    assert (run / "c.csv").read_text().splitlines()[0].endswith(",HW 3: attention")
    with pytest.raises(ValueError, match="give --roster"):
        lms.export(run / "out", canvas=run / "c.csv")
    with pytest.raises(ValueError, match="number in the assignment's Canvas address"):
        lms.export(run / "out", roster=run / "roster.csv", canvas=run / "c.csv", assignment_id="hw3")
    (run / "sis.csv").write_text("folder,id,name\nalice,u1234567,Alice\n")
    with pytest.raises(ValueError, match="numeric user ID, not 'u1234567'.*sis_user_id"):
        lms.export(run / "out", roster=run / "sis.csv", canvas=run / "c.csv")
    with pytest.raises(ValueError, match="nothing to write"):
        lms.export(run / "out", roster=run / "roster.csv")


def test_plain_csv_and_flags_name_everyone_to_look_at(run):
    _, flags, text = lms.export(run / "out", roster=run / "roster.csv", table=run / "lms.csv")
    with open(run / "lms.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["student", "id", "name", "sis_user_id", "sis_login_id", "section", "total", "Q5", "Q13",
                              "status", "reason"]
    got = {r["student"]: (r["total"], r["Q5"], r["Q13"], r["status"]) for r in table}
    assert got == {"alice": ("7", "2", "5", "graded"), "bob": ("3.3333", "1.3333", "2", "graded"),
                   "carol": ("", "", "", "not graded"), "dave": ("0", "0", "0", "flagged"),
                   "frank": ("0", "0", "0", "missing")}
    with open(flags, newline="") as handle:
        flagged = {r["student"]: (r["problem"], r["exported_as"]) for r in csv.DictReader(handle)}
    assert flagged == {"carol": ("not graded", "blank"), "dave": ("flagged", "0"), "frank": ("missing", "0"),
                       "erin": ("not in roster", "not exported")}
    for student in flagged:
        assert student in text, f"{student} is not in the printed summary"
    assert "2 graded, 1 flagged, 1 not graded, 1 missing" in text


def test_without_a_roster_every_graded_folder_is_exported(run):
    lms.export(run / "out", table=run / "plain.csv")
    with open(run / "plain.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["student"] for r in table] == list(CLASS) and list(table[0])[:2] == ["student", "total"]


@pytest.mark.parametrize("text, error", [
    ("folder,name\nalice,Alice\n", "line 1: missing column id"),
    ("folder,id,name,email\nalice,1001,Alice,a@b\n", "line 1: unknown column email"),
    ("folder,id,name\nalice,1001,Alice\nbob,1002,Bob,extra\n", "line 3: expected 3 fields"),
    ("folder,id,name\nalice,1001,Alice\nbob,1002\n", "line 3: expected 3 fields"),
    ("folder,id,name\nalice,,Alice\n", "line 2: no id"),
    ("folder,id,name\n,1001,Alice\n", "line 2: no folder"),
    ("folder,id,name\nalice,1001,Alice\nalice,1002,Alice B\n", "line 3: folder 'alice' is already on line 2"),
    ("folder,id,name\nalice,1001,Alice\nbob,1001,Bob\n", "line 3: id '1001' is already on line 2"),
    ("folder,id,name\n", "names no student"),
])
def test_a_malformed_roster_is_refused_naming_the_line(tmp_path, text, error):
    (tmp_path / "roster.csv").write_text(text)
    with pytest.raises(ValueError, match=error):
        lms.read_roster(tmp_path / "roster.csv")


def test_a_roster_from_excel_with_a_byte_order_mark_reads(tmp_path):
    (tmp_path / "roster.csv").write_text("\ufefffolder,id,name\r\nalice,1001,Alice\r\n", encoding="utf-8")
    assert lms.read_roster(tmp_path / "roster.csv") == [lms.Student("alice", "1001", "Alice")]


@pytest.mark.parametrize("value, text", [(100.0, "100"), (12.5, "12.5"), (1 / 3, "0.3333"), (2 / 3, "0.6667"),
                                         (-0.0, "0"), (1e-7, "0"), (1234567.25, "1234567.25"), (0.1 + 0.2, "0.3")])
def test_numbers_are_plain_decimals(value, text):
    assert grades.number(value) == text


def test_points_possible_must_agree_and_exist(tmp_path):
    write_run(tmp_path / "mixed", {"a": ("graded", {"Q5": 2, "Q13": 5}, ""), "b": ("graded", {"Q5": 2}, "")})
    with pytest.raises(ValueError, match="different maxima: 7 \\(a\\), 2 \\(b\\)"):
        lms.export(tmp_path / "mixed", table=tmp_path / "t.csv")
    write_run(tmp_path / "none", {"a": ("not graded", None, "sandbox")})
    (tmp_path / "r.csv").write_text("folder,id,name\na,1,A\n")
    with pytest.raises(ValueError, match="give --points-possible"):
        lms.export(tmp_path / "none", roster=tmp_path / "r.csv", canvas=tmp_path / "c.csv")
    lms.export(tmp_path / "none", roster=tmp_path / "r.csv", canvas=tmp_path / "c.csv", points_possible=100)
    assert (tmp_path / "c.csv").read_text().splitlines()[1:] == ["Points Possible,,,,,100", "A,1,,,,"]


def test_a_malformed_grades_csv_is_refused_naming_the_line(tmp_path):
    write_run(tmp_path / "out", {"a": ("graded", {"Q5": 2}, ""), "b": ("graded", {"Q5": 1}, "")})
    path = tmp_path / "out" / "grades.csv"
    path.write_text(path.read_text().replace("b,1,1,graded", "b,one,1,graded"))
    with pytest.raises(ValueError, match="grades.csv line 3: Q5 'one' is not a number"):
        grades.read(tmp_path / "out")
    with pytest.raises(ValueError, match="holds no grades.csv"):
        grades.read(tmp_path)
    path.write_text("student,Q5,total,reason\na,2,2,\n")
    with pytest.raises(ValueError, match="grades.csv line 1: .*missing status"):
        grades.read(tmp_path / "out")
    path.write_text("student,Q5,total,status,reason,late\na,2,2,graded,,yes\n")
    assert grades.read(tmp_path / "out") == [grades.Grade("a", {"Q5": 2.0}, 2.0, "graded", "")], "extras ignored"


def test_export_command(run, capsys):
    code = main(["export", str(run / "out"), "--roster", str(run / "roster.csv"), "--canvas", str(run / "c.csv"),
                 "--csv", str(run / "t.csv"), "--flags", str(run / "f.csv")])
    out = capsys.readouterr().out
    assert code == 0 and "not in roster" in out and "erin" in out and (run / "f.csv").is_file()
    (run / "bad.csv").write_text("folder,id\nalice,1\n")
    assert main(["export", str(run / "out"), "--roster", str(run / "bad.csv"), "--csv", str(run / "t.csv")]) == 2
    assert "line 1: missing column name" in capsys.readouterr().err
