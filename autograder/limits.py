"""Submission limits on Gradescope: at most N graded submissions in any window of time.

``python -m autograder gradescope-zip --limit 3 --window 24h`` stores the limit in the zip (``gradescope.json``,
which Gradescope unpacks into ``/autograder/source``); ``gradescope-run`` applies it before grading, from the
``/autograder/submission_metadata.json`` Gradescope writes for every run: ``created_at`` (this submission's time)
and ``previous_submissions``, each with its ``submission_time``, ``score`` and ``results`` (the results.json that
submission produced). Times are ISO 8601 with a UTC offset (``2024-03-01T14:22:32.365935-08:00``).

The rules:

* The window ends at this submission's ``created_at``, never at the clock, so that a re-run of the autograder
  (Gradescope's "Regrade all submissions") decides the same way.
* A previous submission counts as a graded attempt when it was made in the window, ``created_at - window < t <=
  created_at`` (an attempt frees its slot exactly one window after it was made; later ones, seen when an older
  submission is re-run, are not "previous"), and its results show it was graded. Not counted: a submission that
  was over the limit itself (its results say ``extra_data.submission_limit.counts: false``), one the grader failed
  on (``status: not graded``, results.py), one with no results (the autograder never finished). Failures of the
  grader never use up a student's attempts.
* Over the limit (N counted attempts in the window), this submission is not graded. Gradescope shows a student
  the results of their latest submission and takes its score as theirs, so its results.json carries forward the
  results of the most recent counted attempt (score, tests and their feedback): the score earned stands. A
  message on top says when the next submission will be graded: the exact time in UTC, and how long after this
  submission. With counted attempt times t1 <= ... <= tn (n >= N), that is t(n-N+1) + window: the moment only
  N - 1 of them remain in the window.
* When the metadata cannot tell (no file, ``created_at`` missing, a time that is not ISO 8601 or has no UTC offset,
  ``previous_submissions`` not a list), the limit is not applied: the submission is graded and its output says
  why. A broken metadata file never costs a student their grade. A missing ``previous_submissions`` is a first
  submission.

Every results.json written under a limit records it in ``extra_data.submission_limit``.
"""
from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from autograder.results import NOT_GRADED, status

CONFIG = "gradescope.json"  # in the zip, beside setup.sh: /autograder/source/gradescope.json
METADATA = "submission_metadata.json"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Limit:
    """At most ``count`` graded submissions in any ``window``."""

    count: int
    window: timedelta

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"a submission limit must allow at least one graded submission, not {self.count}")
        if self.window <= timedelta(0):
            raise ValueError("a submission limit's window must be longer than 0")

    def describe(self) -> str:
        return f"{self.count} graded submission{'s' if self.count > 1 else ''} per {duration(self.window)}"

    def record(self) -> dict[str, Any]:
        return {"limit": self.count, "window_seconds": self.window.total_seconds()}


def parse_window(text: str) -> timedelta:
    """``"24h"``, ``"90m"``, ``"2d"``, ``"30s"``, ``"1.5h"`` -> timedelta; ValueError for anything else."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if not match:
        raise ValueError(f"--window {text!r}: give a number and a unit, s, m, h or d (e.g. 24h)")
    return timedelta(seconds=float(match[1]) * UNITS[match[2]])


def write_config(limit: Limit | None) -> bytes:
    """gradescope.json's content: ``{"submission_limit": null | {"count": N, "window_seconds": S}}``."""
    entry = None if limit is None else {"count": limit.count, "window_seconds": limit.window.total_seconds()}
    return (json.dumps({"submission_limit": entry}, indent=2) + "\n").encode()


def read_config(source: Path) -> Limit | None:
    """The limit built into the package unpacked at ``source`` (None: no file, or no limit)."""
    path = source / CONFIG
    if not path.is_file():
        return None
    entry = json.loads(path.read_text(encoding="utf-8")).get("submission_limit")
    return None if entry is None else Limit(int(entry["count"]), timedelta(seconds=float(entry["window_seconds"])))


def duration(span: timedelta) -> str:
    """``timedelta(hours=49, minutes=3)`` -> ``"2 d 1 h 3 min"``, ``timedelta(hours=24)`` -> ``"24 h"`` (whole
    seconds, rounded up)."""
    seconds = math.ceil(span.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= (2 * size if unit == "d" else size) or (unit == "s" and not parts):  # 24 h, not 1 d
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts)


def utc(moment: datetime) -> str:
    """``moment`` in UTC to the second, rounded up (a time a student may act on must not be too early)."""
    if moment.microsecond:
        moment += timedelta(microseconds=1_000_000 - moment.microsecond)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class Unreadable(ValueError):
    """The metadata cannot tell how many attempts were graded: the limit is not applied."""


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise Unreadable(f"{what} is missing")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Unreadable(f"{what} {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise Unreadable(f"{what} {value!r} has no UTC offset")
    return moment


def _graded(results: Any) -> bool:
    """Did this previous submission's results come from a grading that counts (see the module docstring)?"""
    if not isinstance(results, dict) or ("score" not in results and "tests" not in results):
        return False
    extra = results.get("extra_data") or {}
    return status(results) != NOT_GRADED and (extra.get("submission_limit") or {}).get("counts") is not False


@dataclass(frozen=True)
class Decision:
    """What the limit says about this submission: ``results`` is the results.json to write instead of grading
    (over the limit), None to grade; ``note`` goes on top of the output; ``record`` into extra_data."""

    results: dict[str, Any] | None
    note: str
    record: dict[str, Any]


def check(root: Path) -> Decision | None:
    """The limit's decision for the submission in Gradescope's ``root`` (``/autograder``); None without a limit."""
    try:
        limit = read_config(root / "source")
    except Exception as error:  # noqa: BLE001 - a broken package must not cost students their grade either
        why = f"{CONFIG}: {type(error).__name__}: {error}"
        return Decision(None, f"The submission limit could not be read ({why}), so this submission was graded.",
                        {"applied": False, "problem": why})
    return None if limit is None else decide(root / METADATA, limit)


def decide(metadata_file: Path, limit: Limit) -> Decision:
    """Apply ``limit`` to the submission ``metadata_file`` describes."""
    try:
        if not metadata_file.is_file():
            raise Unreadable(f"there is no {metadata_file}")
        try:
            metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
        except ValueError as error:
            raise Unreadable(f"{metadata_file.name} is not JSON ({error})") from None
        if not isinstance(metadata, dict):
            raise Unreadable(f"{metadata_file.name} holds no object")
        return _decide(metadata, limit)
    except Exception as error:  # noqa: BLE001 - whatever breaks here, the student is graded (module docstring)
        why = str(error) if isinstance(error, Unreadable) else f"{type(error).__name__}: {error}"
        return Decision(None, f"The submission limit ({limit.describe()}) could not be checked ({why}), so this "
                              "submission was graded.", {**limit.record(), "applied": False, "problem": why})


def _decide(metadata: dict[str, Any], limit: Limit) -> Decision:
    now = _time(metadata.get("created_at"), "created_at")
    previous = metadata.get("previous_submissions") or []
    if not isinstance(previous, list):
        raise Unreadable("previous_submissions is not a list")
    counted = []  # (time, submission) of the graded attempts in the window
    for index, entry in enumerate(previous):
        if not isinstance(entry, dict):
            raise Unreadable(f"previous_submissions[{index}] is not an object")
        moment = _time(entry.get("submission_time"), f"previous_submissions[{index}].submission_time")
        if now - limit.window < moment <= now and _graded(entry.get("results")):
            counted.append((moment, entry))
    counted.sort(key=lambda pair: pair[0])
    record = {**limit.record(), "applied": True, "attempts_in_window": len(counted)}
    if len(counted) < limit.count:
        return Decision(None, f"This submission was graded: graded submission {len(counted) + 1} of the "
                              f"{limit.count} allowed in any {duration(limit.window)} (counted back from this "
                              "submission's time).", record)
    opens = counted[len(counted) - limit.count][0] + limit.window
    last_time, last = counted[-1]
    note = (f"Not graded: you have reached the limit of {limit.describe()}. Your next submission will be graded if "
            f"you submit at or after {utc(opens)} ({duration(opens - now)} after this submission). Your score "
            f"stays that of your graded submission of {utc(last_time)}, whose results follow.")
    results = copy.deepcopy(last["results"])
    results.setdefault("tests", [])
    if "score" not in results:
        results["score"] = float(last.get("score") or 0.0)
    results["output"] = note + "\n\n" + str(results.get("output", ""))
    results.setdefault("extra_data", {})["submission_limit"] = {
        **record, "counts": False, "over_limit": True, "next_graded_at": opens.astimezone(UTC).isoformat(),
        "carried_from": last_time.astimezone(UTC).isoformat()}
    return Decision(results, note, results["extra_data"]["submission_limit"])


def annotate(results: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """``results`` of a grading that ran under a limit, with the decision's note and record (or, when the grader
    failed, a note that this submission does not count)."""
    counts = status(results) != NOT_GRADED
    note = decision.note if counts else "This submission was not graded, so it does not count toward your limit."
    results["output"] = note + "\n\n" + str(results.get("output", ""))
    results.setdefault("extra_data", {})["submission_limit"] = {**decision.record, "counts": counts}
    return results
