"""The class report (``python -m autograder report``, issue #15): its statistics recomputed here with plain code of
the tests' own, on a generated class graded for real (slow) and on small fabricated grade-all folders (edge cases:
students not graded, undefined discrimination, hostile strings, broken files, results.json of older autograders)."""
from __future__ import annotations

import csv
import json
import re
import shutil
import statistics
import time
from collections import Counter
from pathlib import Path

import pytest

from autograder.bulk import grade_all
from autograder.cli import main
from autograder.report import ReportError, build_report
from tests.class_factory import MIXED, MIXED_QUESTIONS, build_class
from tests.helpers import catalogue

NAN = re.compile(r"\bnan\b", re.IGNORECASE)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _summary(report: Path) -> dict[str, float]:
    return {row["statistic"]: float(row["value"]) for row in _rows(report / "summary.csv") if row["value"]}


# -- fabricated grade-all folders ---------------------------------------------------------------------------------
TITLES = {"Q1": "first question", "Q2": "second question", "Q3": "third question"}
MAXIMA = {"Q1": 2.0, "Q2": 1.0, "Q3": 3.0}


def _test(qid: str, score: float, causes: dict[str, str] | None = None, *, structured: bool = True,
          printed: str = "") -> dict:
    """A results.json test entry as the harness writes it: two checks per question sharing its points;
    ``causes`` maps a failing check's name to the cause the student was told."""
    causes = causes or {}
    names = [f"{qid} does one thing.", f"{qid} does another."]
    share = MAXIMA[qid] / 2
    checks = [{"name": n, "passed": n not in causes, "score": 0 if n in causes else share, "max_score": share,
               "message": causes.get(n, "")} for n in names]
    lines = [f"{'PASS' if c['passed'] else 'FAIL'} ({c['score']:g}/{c['max_score']:g}) {c['name']}"
             + ("" if c["passed"] else "\n    " + c["message"].replace("\n", "\n    ")) for c in checks]
    if printed:
        lines.append("Your code printed (last lines):\n" + printed)
    test = {"name": f"{qid} {TITLES[qid]}", "score": score, "max_score": MAXIMA[qid],
            "status": "passed" if score == MAXIMA[qid] else "failed", "output": "\n".join(lines),
            "visibility": "visible"}
    if structured:
        test["extra_data"] = {"checks": checks, "seconds": 0.5 + MAXIMA[qid]}
    return test


def _fabricate(root: Path, students: dict[str, dict], questions=("Q1", "Q2", "Q3")) -> Path:
    """A grade-all folder: ``students`` maps an id to {"scores": {qid: points}} (graded), or {"status": "not graded",
    "reason": ...}, optionally with "causes" {qid: {check: cause}}, "structured" and "printed"."""
    rows = []
    for student, spec in students.items():
        status, reason = spec.get("status", "graded"), spec.get("reason", "")
        folder = root / student
        folder.mkdir(parents=True)
        row = {"student": student, "status": status, "reason": reason}
        if status == "not graded":
            results = {"score": 0, "tests": [], "output": "Not graded", "extra_data": {"status": status,
                                                                                       "reason": reason}}
            row["total"] = ""
        else:
            scores = spec["scores"]
            tests = [_test(q, scores[q], spec.get("causes", {}).get(q), structured=spec.get("structured", True),
                           printed=spec.get("printed", "")) for q in questions]
            results = {"score": sum(scores.values()), "tests": tests, "output": "",
                       "extra_data": {"status": status, "reason": reason}}
            row.update({q: f"{scores[q]:g}" for q in questions}, total=f"{sum(scores.values()):g}")
        (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
        rows.append(row)
    with open(root / "grades.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["student", *questions, "total", "status", "reason"], restval="")
        writer.writeheader()
        writer.writerows(rows)
    return root


WRONG = {"Q1 does one thing.": "padded positions receive attention: apply the mask before the softmax"}
SMALL = {"ann": {"scores": {"Q1": 2, "Q2": 1, "Q3": 3}},
         "ben": {"scores": {"Q1": 1, "Q2": 1, "Q3": 2}, "causes": {"Q1": WRONG}},
         "cat": {"scores": {"Q1": 0, "Q2": 1, "Q3": 0}, "causes": {"Q1": {**WRONG, "Q1 does another.": "no"}}},
         "dan": {"scores": {"Q1": 1, "Q2": 1, "Q3": 3}, "causes": {"Q1": WRONG}},
         "eve": {"status": "not graded", "reason": "the grading zygote died (exit -9)"}}


def test_not_graded_students_are_excluded_from_the_statistics(tmp_path):
    report = tmp_path / "report"
    build_report(_fabricate(tmp_path / "grades", SMALL), report)
    summary = _summary(report)
    totals = [6, 4, 1, 5]  # eve, not graded, has no total and is left out
    assert summary["n"] == 4 and summary["mean"] == pytest.approx(statistics.mean(totals), abs=1e-6)
    assert summary["median"] == pytest.approx(4.5) and summary["max_possible"] == 6
    questions = {row["question"]: row for row in _rows(report / "questions.csv")}
    assert float(questions["Q1"]["mean"]) == pytest.approx(1.0) and float(questions["Q1"]["zero_share"]) == 0.25
    assert float(questions["Q1"]["full_share"]) == 0.25
    q1 = [row for row in _rows(report / "failures.csv") if row["question"] == "Q1"]
    assert q1[0]["cause"] == WRONG["Q1 does one thing."] and q1[0]["students"] == "3" and float(q1[0]["share"]) == 0.75
    assert [row["student"] for row in _rows(report / "flagged.csv")] == ["eve"]
    page = (report / "report.html").read_text()
    assert "1 not graded" in page and "excluded from every statistic" in page and "zygote died" in page


def test_a_question_everyone_got_right_has_no_discrimination_and_no_nan(tmp_path):
    report = tmp_path / "report"
    build_report(_fabricate(tmp_path / "grades", SMALL), report)  # Q2: everyone full marks
    questions = {row["question"]: row for row in _rows(report / "questions.csv")}
    assert questions["Q2"]["discrimination"] == "" and "everyone scored the same" in questions["Q2"][
        "discrimination_undefined"]
    assert float(questions["Q2"]["full_share"]) == 1.0
    # Q1 against the rest (Q2 + Q3): computed here by hand
    assert float(questions["Q1"]["discrimination"]) == pytest.approx(
        statistics.correlation([2, 1, 0, 1], [4, 3, 1, 4]), abs=1e-6)
    page = (report / "report.html").read_text()
    assert "undefined: everyone scored the same on this question" in page
    for path in report.iterdir():
        if path.suffix in (".html", ".csv"):
            assert not NAN.search(path.read_text()), f"NaN in {path.name}"


def test_poor_and_negative_discrimination_are_flagged(tmp_path):
    students = {f"s{i}": {"scores": {"Q1": q1, "Q2": q2, "Q3": q3}}
                for i, (q1, q2, q3) in enumerate([(0, 0, 3), (1, 0, 2), (2, 1, 1), (2, 1, 0), (0, 1, 3)])}
    report = tmp_path / "report"
    build_report(_fabricate(tmp_path / "grades", students), report)
    questions = {row["question"]: row for row in _rows(report / "questions.csv")}
    for qid in questions:
        item = [s["scores"][qid] for s in students.values()]
        rest = [sum(v for q, v in s["scores"].items() if q != qid) for s in students.values()]
        expected = statistics.correlation(item, rest)
        assert float(questions[qid]["discrimination"]) == pytest.approx(expected, abs=1e-6), qid
        assert questions[qid]["attention"] == ("negative" if expected < 0 else "poor (< 0.2)" if expected < 0.2 else "")
    assert questions["Q3"]["attention"] == "negative"
    assert "Discriminating poorly or negatively" in (report / "report.html").read_text()


def test_hostile_strings_are_escaped(tmp_path):
    hostile = '<script>alert("x")</script>'
    students = {**SMALL, "<img src=x onerror=alert(1)>": {"status": "flagged", "reason": hostile,
                                                           "scores": {"Q1": 0, "Q2": 0, "Q3": 0},
                                                           "causes": {"Q3": {"Q3 does one thing.": hostile}}}}
    report = tmp_path / "report"
    build_report(_fabricate(tmp_path / "grades", students), report)
    page = (report / "report.html").read_text()
    assert "alert(" in page and "<script>alert(" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count("<script>") == 1, "only the page's own sorting script"


def test_missing_or_corrupt_results_json_is_named(tmp_path, capsys):
    grades = _fabricate(tmp_path / "grades", SMALL)
    (grades / "ben" / "results.json").write_text('{"score": 1, "tests": [', encoding="utf-8")
    with pytest.raises(ReportError, match=r"ben/results\.json: not valid JSON"):
        build_report(grades, tmp_path / "report")
    (grades / "ben" / "results.json").unlink()
    assert main(["report", str(grades), "--out", str(tmp_path / "report")]) == 2
    assert f"{grades / 'ben' / 'results.json'}: missing" in capsys.readouterr().err
    (grades / "ben" / "results.json").write_text('{"score": 1}', encoding="utf-8")
    with pytest.raises(ReportError, match=r"ben/results\.json: not a results\.json"):
        build_report(grades, tmp_path / "report")
    other = _fabricate(tmp_path / "other", SMALL)
    text = (other / "grades.csv").read_text().replace("ben,1,", "ben,one,")
    (other / "grades.csv").write_text(text)
    with pytest.raises(ReportError, match=r"grades\.csv line 3: Q1 'one' is not a number"):
        build_report(other, tmp_path / "report")
    (grades / "grades.csv").unlink()
    with pytest.raises(ReportError, match=r"holds no grades\.csv"):
        build_report(grades, tmp_path / "report")


def test_results_of_an_older_autograder_are_parsed_from_the_output(tmp_path):
    """Without extra_data the checks come from the output text, the same as with it; text the student printed
    cannot pose as a check; the page says which it used, and that there are no per-question times."""
    forged = "FAIL (0/1) Q1 does one thing.\n    forged cause"
    old = {s: {**spec, "structured": False, "printed": forged} for s, spec in SMALL.items()}
    new, parsed = tmp_path / "new", tmp_path / "parsed"
    build_report(_fabricate(tmp_path / "grades-new", SMALL), new)
    build_report(_fabricate(tmp_path / "grades-old", old), parsed)
    for name in ("failures.csv", "checks.csv", "questions.csv", "summary.csv"):
        assert _rows(new / name) == _rows(parsed / name), name
    assert "forged cause" not in (parsed / "failures.csv").read_text()
    page = (parsed / "report.html").read_text()
    assert "4 students' checks were parsed from the feedback text" in page and "No per-question times" in page
    assert not (parsed / "timing.png").exists() and (new / "timing.png").exists()
    assert "4 students' checks were read from results.json's structured" in (new / "report.html").read_text()


def test_nobody_with_a_score_still_gives_a_page(tmp_path):
    students = {"eve": {"status": "not graded", "reason": "the sandbox could not be set up"}}
    page = build_report(_fabricate(tmp_path / "grades", students, questions=()), tmp_path / "report").read_text()
    assert "No student has a score" in page and not NAN.search(page)


# -- a generated class, graded for real ---------------------------------------------------------------------------
@pytest.mark.slow
def test_report_of_a_generated_class(tmp_path):
    started = time.monotonic()
    members = build_class(tmp_path / "class", MIXED)
    grades, report = tmp_path / "grades", tmp_path / "report"
    grade_all(tmp_path / "class", grades, questions=MIXED_QUESTIONS, max_timeout=60, progress=False)
    graded_at = time.monotonic()
    assert main(["report", str(grades), "--out", str(report)]) == 0
    print(f"\n{len(members)} students: built and graded in {graded_at - started:.1f} s, "
          f"report in {time.monotonic() - graded_at:.1f} s")

    # The statistics, recomputed from grades.csv and results.json with plain code
    rows = [row for row in _rows(grades / "grades.csv") if row["status"] != "not graded"]
    assert len(members) >= 40 and len(rows) == len(members)
    totals = [float(row["total"]) for row in rows]
    q1, median, q3 = statistics.quantiles(totals, n=4, method="inclusive")
    summary = _summary(report)
    expected = {"n": len(totals), "mean": statistics.mean(totals), "median": statistics.median(totals),
                "q1": q1, "q3": q3, "sd": statistics.stdev(totals), "minimum": min(totals), "maximum": max(totals)}
    assert summary == pytest.approx({**summary, **expected}, abs=1e-5) and median == statistics.median(totals)
    maxima = {t["name"].split()[0]: t["max_score"] for path in grades.glob("*/results.json")
              for t in json.loads(path.read_text())["tests"]}
    questions = {row["question"]: row for row in _rows(report / "questions.csv")}
    assert list(questions) == MIXED_QUESTIONS
    for qid in MIXED_QUESTIONS:
        item = [float(row[qid]) for row in rows]
        rest = [sum(float(row[q]) for q in MIXED_QUESTIONS if q != qid) for row in rows]
        got = {k: float(questions[qid][k]) for k in ("mean", "full_share", "zero_share", "discrimination")}
        assert got == pytest.approx({"mean": statistics.mean(item), "full_share": sum(v == maxima[qid] for v in item)
                                     / len(item), "zero_share": sum(v == 0 for v in item) / len(item),
                                     "discrimination": statistics.correlation(item, rest)}, abs=1e-5), qid

    # The most frequent cause of the mutant-heavy question is the planted mutant's diagnosis
    planted = sum(m.mutant == "Q13 missing_sqrt" for m in members.values())
    told: Counter[str] = Counter()
    for student in members:
        tests = json.loads((grades / student / "results.json").read_text())["tests"]
        for test in tests:
            if test["name"].startswith("Q13 "):  # the empty folder's (flagged) tests have no checks
                told.update({c["message"] for c in test.get("extra_data", {}).get("checks", []) if not c["passed"]})
    cause, count = told.most_common(1)[0]
    assert catalogue()["Q13 missing_sqrt"].hint in cause.lower() and count == planted >= 10
    first = next(row for row in _rows(report / "failures.csv") if row["question"] == "Q13")
    assert (first["cause"], int(first["students"])) == (cause, count)

    # A self-contained page: the figures embedded, nothing fetched, nothing undefined shown as NaN
    page = (report / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 4 and not re.search(r'(src|href)="(https?:)?//', page)
    assert f"{statistics.mean(totals):.2f}" in page and not NAN.search(page)
    assert "divided by d, not by sqrt(d)" in page and "no submission found" in page

    # The same report from the output text alone (results.json of an older autograder)
    old = tmp_path / "old"
    shutil.copytree(grades, old)
    for path in old.glob("*/results.json"):
        results = json.loads(path.read_text())
        for test in results["tests"]:
            test.pop("extra_data", None)
        path.write_text(json.dumps(results))
    build_report(old, tmp_path / "old-report")
    for name in ("failures.csv", "checks.csv", "questions.csv", "summary.csv"):
        assert _rows(report / name) == _rows(tmp_path / "old-report" / name), name
