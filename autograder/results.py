"""The result of grading one submission: one type and one failure policy for every entry point.

``grade``, ``grade-all``, ``gradescope-run`` and the nbgrader glue all produce (or read) the same thing, the
content of Gradescope's ``results.json``, whose ``extra_data["status"]`` says which of three outcomes it is:

``graded``      the scores stand.
``flagged``     scored, but an instructor should look (``reason``): e.g. no ``seq2seq`` package was found.
``not graded``  the grader failed, not the submission (``reason``): the sandbox could not be set up, a zygote
                died, the reference solution failed a probe, a check broke, the grader's files changed. There is
                no score: ``grade`` exits 3, ``grade-all`` leaves the total blank, flags the student and grades
                them again when it resumes, Gradescope's student is told it is not their score.

A failure of the grader is never turned into a student's zero: :func:`or_not_graded` is the one place that catches it.
"""
from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

GRADED, FLAGGED, NOT_GRADED = "graded", "flagged", "not graded"


class GraderError(RuntimeError):
    """The grader failed (graders, reference, files changed): the submission is not graded."""


class InfrastructureError(GraderError):
    """The sandbox failed (a child could not be isolated, a zygote died): the submission is not graded."""


def graded(tests: list[dict[str, Any]], seconds: float, output: str, extra: dict[str, Any]) -> dict[str, Any]:
    """results.json for a grading that ran: ``tests`` are Gradescope's test entries."""
    return {"score": round(sum(t["score"] for t in tests), 4), "execution_time": round(seconds, 1), "tests": tests,
            "output": output,
            "extra_data": {"status": GRADED, "reason": "", "max_score": sum(t["max_score"] for t in tests),
                           **extra}}


def flagged(reason: str, maxima: dict[str, float]) -> dict[str, Any]:
    """results.json scoring 0 on every question of ``maxima`` (``{"Q4 set_seed ...": 2.0}``), for ``reason``."""
    tests = [{"name": name, "score": 0, "max_score": maximum, "status": "failed", "output": reason,
              "visibility": "visible"} for name, maximum in maxima.items()]
    results = graded(tests, 0.0, reason, {})
    results["extra_data"].update(status=FLAGGED, reason=reason)
    return results


def flag(results: dict[str, Any], reason: str) -> dict[str, Any]:
    """``results`` flagged for ``reason`` too (its scores stand; "" changes nothing; "not graded" stays so)."""
    if reason and status(results) != NOT_GRADED:
        extra = results["extra_data"]
        extra["status"] = FLAGGED
        extra["reason"] = "; ".join(r for r in (extra.get("reason"), reason) if r)
        results["output"] = "\n".join(o for o in (results.get("output"), reason) if o)
    return results


def not_graded(reason: str) -> dict[str, Any]:
    """results.json for a submission the grader could not grade: no score, and why."""
    return {"score": 0, "tests": [],
            "output": ("Not graded: the autograder failed, not your code, so this is not your score. Your "
                       f"instructor will grade it again. ({reason})"),
            "extra_data": {"status": NOT_GRADED, "reason": reason}}


def status(results: dict[str, Any]) -> str:
    """The outcome of ``results`` (results.json's content)."""
    return results.get("extra_data", {}).get("status", GRADED)


def or_not_graded(grading: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``grading`` (which returns results.json's content); whatever the grader raises becomes "not graded"."""
    try:
        return grading()
    except GraderError as error:
        return not_graded(str(error))
    except Exception as error:  # noqa: BLE001 - an unforeseen failure of the grader is still not the student's
        where = traceback.extract_tb(error.__traceback__)[-1]
        return not_graded(f"{type(error).__name__}: {error} (at {where.filename}:{where.lineno})")
