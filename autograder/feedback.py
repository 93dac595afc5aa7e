"""Student feedback as Markdown, made from a results.json: what failed and why, never hidden test code."""
from __future__ import annotations

from typing import Any


def markdown(results: dict[str, Any], student: str | None = None) -> str:
    """Render ``results`` (the harness's results.json content) as a Markdown report for one student."""
    maximum = results.get("extra_data", {}).get("max_score", sum(t["max_score"] for t in results["tests"]))
    lines = [f"# Feedback{f' for {student}' if student else ''}: attention_seq2seq", "",
             f"**Total: {results['score']:g} / {maximum:g} points.** {results.get('output', '')}", "",
             "| question | points |", "| --- | --- |"]
    lines += [f"| {t['name']} | {t['score']:g} / {t['max_score']:g} |" for t in results["tests"]]
    for test in results["tests"]:
        mark = "full marks" if test["score"] == test["max_score"] else f"{test['score']:g} / {test['max_score']:g}"
        lines += ["", f"## {test['name']} ({mark})", "", "```text", test["output"].strip() or "(no details)", "```"]
    return "\n".join(lines) + "\n"
