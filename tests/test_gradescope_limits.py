"""The Gradescope submission limit (autograder/limits.py), on fabricated ``submission_metadata.json`` files: the
window's arithmetic and boundary, what counts as a graded attempt, the message and the score carried forward,
and that broken metadata never costs a student their grade."""
from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from autograder import gradescope, limits
from autograder.cli import main
from autograder.results import not_graded

NOW = datetime.fromisoformat("2024-03-01T12:00:00-08:00")  # 20:00 UTC
NOW_TEXT = NOW.isoformat()
DAY = limits.Limit(3, timedelta(hours=24))


def results(score: float, **extra) -> dict:
    """A previous submission's results.json: one test, its score."""
    return {"score": score, "output": f"Graded ({score})",
            "tests": [{"name": "Q5 loading", "score": score, "max_score": 7, "output": "ok"}],
            "extra_data": {"status": "graded", **extra}}


def attempt(hours_before: float, score: float = 5.0, given: dict | None = None, **fields) -> dict:
    """A previous submission made ``hours_before`` NOW (its time written in UTC, as a different offset than NOW)."""
    when = (NOW - timedelta(hours=hours_before)).astimezone(UTC)
    return {"submission_time": when.isoformat(), "score": score, "results": results(score) if given is None else given,
            **fields}


def metadata(tmp_path, previous: list[dict], created_at: str | None = NOW_TEXT):
    path = tmp_path / "submission_metadata.json"
    data = {"id": 1, "assignment": {"title": "Seq2seq", "total_points": "100.0"},
            "users": [{"email": "s@example.com", "id": 7, "name": "S"}], "previous_submissions": previous}
    if created_at is not None:
        data["created_at"] = created_at
    path.write_text(json.dumps(data))
    return path


def test_first_submissions_are_graded(tmp_path):
    for previous in ([], [attempt(5), attempt(1)]):
        decision = limits.decide(metadata(tmp_path, previous), DAY)
        assert decision.results is None and decision.record["applied"] is True
        assert f"graded submission {len(previous) + 1} of the 3 allowed in any 24 h" in decision.note


def test_over_the_limit_the_previous_score_stands_and_the_next_time_is_given(tmp_path):
    previous = [attempt(23, score=2), attempt(2, score=6), attempt(1, score=4)]
    decision = limits.decide(metadata(tmp_path, previous), DAY)
    got = decision.results
    assert got is not None, "the fourth submission in 24 h is not graded"
    assert got["score"] == 4 and got["tests"] == previous[2]["results"]["tests"], "the latest graded one is carried"
    # the oldest counted attempt (23 h before, i.e. 2024-02-29 21:00 UTC) frees its slot 24 h after it was made
    assert "at or after 2024-03-01 21:00:00 UTC (1 h after this submission)" in got["output"]
    assert "stays that of your graded submission of 2024-03-01 19:00:00 UTC" in got["output"]
    assert got["output"].endswith("Graded (4)"), "the carried feedback follows the message"
    record = got["extra_data"]["submission_limit"]
    assert record["counts"] is False and record["next_graded_at"] == "2024-03-01T21:00:00+00:00"
    assert record["attempts_in_window"] == 3


def test_the_next_time_is_when_only_limit_minus_one_remain(tmp_path):
    """Four counted attempts (the limit was lowered): the second oldest must leave the window, not the oldest."""
    previous = [attempt(23.5), attempt(22), attempt(3), attempt(2)]
    got = limits.decide(metadata(tmp_path, previous), DAY).results
    assert "at or after 2024-03-01 22:00:00 UTC (2 h after this submission)" in got["output"]


def test_the_window_boundary(tmp_path):
    """An attempt made exactly one window ago no longer counts; one made a microsecond later does."""
    at_boundary = [attempt(24), attempt(2), attempt(1)]
    assert limits.decide(metadata(tmp_path, at_boundary), DAY).results is None
    inside = [attempt(24 - 1 / 3600e6), attempt(2), attempt(1)]
    got = limits.decide(metadata(tmp_path, inside), DAY).results
    assert got is not None and "at or after 2024-03-01 20:00:01 UTC (1 s after this submission)" in got["output"], \
        "rounded up to the second: a student who submits at the time given is graded"


def test_at_the_time_given_the_submission_is_graded(tmp_path):
    previous = [attempt(23), attempt(2), attempt(1)]
    record = limits.decide(metadata(tmp_path, previous), DAY).results["extra_data"]["submission_limit"]
    later = datetime.fromisoformat(record["next_graded_at"])
    assert limits.decide(metadata(tmp_path, previous, later.isoformat()), DAY).results is None
    just_before = (later - timedelta(seconds=1)).isoformat()
    assert limits.decide(metadata(tmp_path, previous, just_before), DAY).results is not None


def test_offsets_are_compared_as_moments(tmp_path):
    """10:00-08:00 is 18:00 UTC, inside the window, although '10:00' < '12:00 - 24 h' as text would say otherwise."""
    previous = [{"submission_time": "2024-03-01T10:00:00-08:00", "score": 1, "results": results(1)},
                {"submission_time": "2024-02-29T20:30:00Z", "score": 2, "results": results(2)},   # 23.5 h before
                {"submission_time": "2024-03-01T04:00:00+09:00", "score": 3, "results": results(3)}]  # 19:00 UTC 29th
    decision = limits.decide(metadata(tmp_path, previous), limits.Limit(2, timedelta(hours=24)))
    assert decision.results is not None and decision.results["score"] == 1, "two counted; the latest is carried"


def test_attempts_that_were_not_graded_do_not_count(tmp_path):
    limit = limits.Limit(2, timedelta(hours=24))
    over = results(5, submission_limit={"counts": False, "over_limit": True})
    previous = [attempt(20, score=5), attempt(10, given=over), attempt(5, given=over),
                attempt(4, given=not_graded("zygote died")), attempt(3, given={}),  # the autograder never finished
                attempt(-1, score=1)]  # after this submission (a re-run of an older one): not previous
    decision = limits.decide(metadata(tmp_path, previous), limit)
    assert decision.results is None and decision.record["attempts_in_window"] == 1
    previous.insert(1, attempt(15, score=6))
    got = limits.decide(metadata(tmp_path, previous), limit).results
    assert got is not None and got["score"] == 6, "the most recent counted attempt is carried, not an over-limit one"


@pytest.mark.parametrize("created_at, previous, why", [
    ("yesterday", [], "created_at 'yesterday' is not an ISO 8601 time"),
    (None, [], "created_at is missing"),
    ("2024-03-01T12:00:00", [], "created_at '2024-03-01T12:00:00' has no UTC offset"),
    (NOW.isoformat(), [{"score": 1, "results": {}}], "previous_submissions[0].submission_time is missing"),
    (NOW.isoformat(), [{"submission_time": "01/03/2024 11:00", "score": 1}],
     "previous_submissions[0].submission_time '01/03/2024 11:00' is not an ISO 8601 time"),
    (NOW.isoformat(), ["2024-03-01T11:00:00Z"], "previous_submissions[0] is not an object"),
])
def test_unreadable_metadata_grades_the_submission_and_says_why(tmp_path, created_at, previous, why):
    decision = limits.decide(metadata(tmp_path, previous, created_at), DAY)
    assert decision.results is None and decision.record["applied"] is False
    assert why in decision.note and "so this submission was graded" in decision.note


def test_missing_metadata_file_grades_the_submission(tmp_path):
    decision = limits.decide(tmp_path / "submission_metadata.json", DAY)
    assert decision.results is None and "could not be checked (there is no" in decision.note
    (tmp_path / "submission_metadata.json").write_text("{not json")
    assert "is not JSON" in limits.decide(tmp_path / "submission_metadata.json", DAY).note


def gradescope_root(tmp_path, limit, previous, created_at=NOW_TEXT):
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "source" / limits.CONFIG).write_bytes(limits.write_config(limit))
    (root / "submission").mkdir()
    (root / "submission_metadata.json").write_text(metadata(tmp_path, previous, created_at).read_text())
    return root


@pytest.fixture
def fake_grade(monkeypatch):
    calls = []

    def grade(folder, **kwargs):
        calls.append(folder)
        return results(7)
    monkeypatch.setattr(gradescope, "_grade_upload", grade)
    return calls


def test_gradescope_run_under_over_and_without_the_limit(tmp_path, fake_grade):
    root = gradescope_root(tmp_path, DAY, [attempt(2), attempt(1)])
    gradescope.run(root)
    written = json.loads((root / "results" / "results.json").read_text())
    assert len(fake_grade) == 1 and written["score"] == 7 and written["output"].startswith("This submission was graded")
    assert written["extra_data"]["submission_limit"]["counts"] is True

    root = gradescope_root(tmp_path / "b", DAY, [attempt(3, score=2), attempt(2), attempt(1, score=3)])
    gradescope.run(root)
    written = json.loads((root / "results" / "results.json").read_text())
    assert len(fake_grade) == 1 and written["score"] == 3, "over the limit: not graded, the latest score stands"
    assert "Not graded: you have reached the limit" in (root / "results" / "feedback.md").read_text()

    root = gradescope_root(tmp_path / "c", DAY, [attempt(3), attempt(2), attempt(1)], created_at="not a time")
    gradescope.run(root)
    written = json.loads((root / "results" / "results.json").read_text())
    assert len(fake_grade) == 2 and written["score"] == 7 and "could not be checked" in written["output"]

    root = gradescope_root(tmp_path / "d", None, [attempt(3), attempt(2), attempt(1)])
    gradescope.run(root)
    written = json.loads((root / "results" / "results.json").read_text())
    assert len(fake_grade) == 3 and "submission_limit" not in written["extra_data"], "no limit: nothing changes"


def test_results_without_tests_are_carried_with_their_score(tmp_path, fake_grade):
    root = gradescope_root(tmp_path, limits.Limit(1, timedelta(hours=1)), [attempt(0.5, given={"score": 4.5})])
    gradescope.run(root)
    written = json.loads((root / "results" / "results.json").read_text())
    assert fake_grade == [] and written["score"] == 4.5 and written["tests"] == []
    assert "**Total: 4.5" in (root / "results" / "feedback.md").read_text()


def test_a_grader_failure_does_not_count(tmp_path, monkeypatch):
    monkeypatch.setattr(gradescope, "_grade_upload", lambda folder: (_ for _ in ()).throw(RuntimeError("zygote")))
    root = gradescope_root(tmp_path, DAY, [])
    gradescope.run(root)
    written = json.loads((root / "results" / "results.json").read_text())
    assert written["extra_data"]["submission_limit"]["counts"] is False
    assert written["output"].startswith("This submission was not graded, so it does not count")
    assert not limits._graded(written), "a later submission does not count it"


def test_the_zip_carries_the_limit(tmp_path, capsys):
    assert main(["gradescope-zip", "--out", str(tmp_path / "a.zip"), "--limit", "3", "--window", "12h"]) == 0
    assert "3 graded submissions per 12 h" in capsys.readouterr().out
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        archive.extract(limits.CONFIG, tmp_path / "source")
    assert limits.read_config(tmp_path / "source") == limits.Limit(3, timedelta(hours=12))
    assert main(["gradescope-zip", "--out", str(tmp_path / "b.zip")]) == 0
    with zipfile.ZipFile(tmp_path / "b.zip") as archive:
        assert json.loads(archive.read(limits.CONFIG)) == {"submission_limit": None}
    for bad, error in ((["--limit", "0"], "at least one"), (["--limit", "2", "--window", "5x"], "a number and a unit"),
                       (["--window", "2h"], "--window needs --limit")):
        assert main(["gradescope-zip", "--out", str(tmp_path / "c.zip"), *bad]) == 2
        assert error in capsys.readouterr().err
    broken = tmp_path / "broken"
    (broken / "source").mkdir(parents=True)
    (broken / "source" / limits.CONFIG).write_text('{"submission_limit": {"count": "x"}}')
    decision = limits.check(broken)
    assert decision.results is None and "could not be read" in decision.note


@pytest.mark.parametrize("text, seconds", [("24h", 86400), ("90m", 5400), ("2d", 172800), ("30s", 30),
                                           ("1.5h", 5400), (" 7 d ", 604800)])
def test_windows(text, seconds):
    assert limits.parse_window(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("span, text", [(timedelta(hours=24), "24 h"), (timedelta(minutes=90), "1 h 30 min"),
                                        (timedelta(hours=49, minutes=3), "2 d 1 h 3 min"),
                                        (timedelta(seconds=0.2), "1 s")])
def test_durations(span, text):
    assert limits.duration(span) == text
