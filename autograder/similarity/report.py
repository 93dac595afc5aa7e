"""What ``python -m autograder similarity`` writes: ranked CSVs, an index page and one page per pair.

* ``overall.csv``: every pair that shares any counted code, ranked by how many questions flag it, then by its
  overall score; ``questions.csv``: per question, every such pair ranked by score. Both say which pairs are
  flagged and name the pair's page when it has one.
* ``index.html``: the settings, what could not be read, the flagged pairs and the top of each ranking.
* ``pairs/<pair>.html``: the two students' counted code side by side, question by question, the statements
  that match the other side highlighted. Pages are written for flagged pairs first, then the best-ranked, up to
  ``max_pages``; the index says how many were left out.

Every page is self-contained (inline CSS, no script) and every piece of student text (code, ids, file names)
is HTML-escaped: a submission cannot inject markup into the report.
"""
from __future__ import annotations

import csv
import html
from pathlib import Path

from autograder.similarity.compare import OVERALL, Pair, Settings, question_order
from autograder.similarity.extract import Submission, Unit

TOP = 10  # rows of each ranking shown on the index besides the flagged pairs
_CSS = """
body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}tr.flag td{background:#fde2e1}
.cols{display:flex;gap:1em}.col{flex:1;min-width:0}pre{background:#fafafa;border:1px solid #ddd;
padding:.4em;overflow-x:auto;font-size:12px;line-height:1.35}span.match{background:#ffd27a;display:block}
span.given{color:#999;display:block}span.own{display:block}.note{color:#555}
"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n")


def page_name(a: int, b: int) -> str:
    """The file of a pair's page, from the students' positions (ids may hold any character)."""
    return f"pairs/{a:04d}-{b:04d}.html"


def _code(units: list[Unit], other: frozenset[int]) -> str:
    """A student's units as escaped ``<pre>`` blocks: statements sharing half their fingerprints with ``other``
    highlighted, counted ones plain, the rest (given code, docstrings, comments) greyed."""
    blocks = []
    for unit in units:
        status: dict[int, str] = {}
        for statement in unit.statements:
            shared = len(statement.prints & other) * 2 >= len(statement.prints)
            for line in range(statement.first, statement.last + 1):
                if status.get(line) != "match":
                    status[line] = "match" if shared else "own"
        lines = []
        for number, text in enumerate(unit.text.splitlines(), start=unit.first_line):
            if unit.docstring and unit.docstring[0] < number <= unit.docstring[1]:
                continue  # the docstring, folded into its first line
            if unit.docstring and number == unit.docstring[0]:
                text = text[:len(text) - len(text.lstrip())] + '"""(docstring)"""'
            lines.append(f'<span class="{status.get(number, "given")}">{html.escape(text) or " "}</span>')
        blocks.append(f"<p><b>{html.escape(unit.module)}</b>: {html.escape(unit.name)} (line {unit.first_line})</p>"
                      f"<pre>{''.join(lines)}</pre>")
    return "".join(blocks) or "<p class=\"note\">no counted code</p>"


def pair_page(a: Submission, b: Submission, scores: dict[str, Pair], settings: Settings) -> str:
    """The side-by-side page of one pair; ``scores`` holds its figures by question (and ``overall``)."""
    rows = "".join(
        f"<tr class=\"{'flag' if p.flagged else ''}\"><td>{html.escape(q)}</td><td>{p.score:.2f}</td><td>{p.shared}"
        f"</td><td>{p.size_a}</td><td>{p.size_b}</td><td>{'yes' if p.flagged else ''}</td></tr>"
        for q, p in sorted(scores.items(), key=lambda item: question_order(item[0])))
    sections = []
    for question in sorted((q for q in scores if q != OVERALL), key=question_order):
        left = [u for u in a.units if u.question == question]
        right = [u for u in b.units if u.question == question]
        sections.append(f"<h2>{html.escape(question)}: score {scores[question].score:.2f}</h2><div class=\"cols\">"
                        f"<div class=\"col\"><h3>{html.escape(a.student)}</h3>{_code(left, b.prints(question))}</div>"
                        f"<div class=\"col\"><h3>{html.escape(b.student)}</h3>{_code(right, a.prints(question))}</div>"
                        "</div>")
    body = (f"<h1>{html.escape(a.student)} and {html.escape(b.student)}</h1>"
            "<p><a href=\"../index.html\">back to the index</a>. Highlighted: statements whose normalised code "
            "(names, layout, comments and order aside) matches the other student's on the same question; grey: "
            "what does not count (given by the release, docstrings, comments, statements too short to tell "
            "anything, such as <code>continue</code>).</p>"
            f"<p class=\"note\">Flagged: score at least {settings.threshold} and at least {settings.min_shared} "
            "shared fingerprints.</p><table><tr><th>question</th><th>score</th><th>shared</th>"
            f"<th>fingerprints {html.escape(a.student)}</th><th>fingerprints {html.escape(b.student)}</th>"
            f"<th>flagged</th></tr>{rows}</table>{''.join(sections)}")
    return _page(f"{a.student} and {b.student}", body)


def _ranked_overall(table: dict[str, list[Pair]]) -> list[tuple[Pair, list[str]]]:
    flagged: dict[tuple[int, int], list[str]] = {}
    for question, pairs in table.items():
        for p in pairs:
            if p.flagged and question != OVERALL:
                flagged.setdefault((p.a, p.b), []).append(question)
    rows = [(p, flagged.get((p.a, p.b), [])) for p in table.get(OVERALL, [])]
    return sorted(rows, key=lambda row: (-len(row[1]), -row[0].score, row[0].a, row[0].b))


def write(out: Path, submissions: list[Submission], table: dict[str, list[Pair]], settings: Settings, *,
          max_pages: int = 500) -> dict[str, int]:
    """Write the CSVs, the pages and the index under ``out``; return counts for the command's summary line."""
    (out / "pairs").mkdir(parents=True, exist_ok=True)
    overall = _ranked_overall(table)
    wanted = [(p.a, p.b) for p, questions in overall if questions or p.flagged]
    wanted += [(p.a, p.b) for q, pairs in table.items() for p in pairs[:TOP]]
    pages = list(dict.fromkeys(wanted))[:max_pages]
    written = set(pages)
    by_pair: dict[tuple[int, int], dict[str, Pair]] = {}
    for question, pairs in table.items():
        for p in pairs:
            if (p.a, p.b) in written:
                by_pair.setdefault((p.a, p.b), {})[question] = p
    for a, b in pages:
        (out / page_name(a, b)).write_text(pair_page(submissions[a], submissions[b], by_pair[(a, b)], settings),
                                           encoding="utf-8")
    ids = [s.student for s in submissions]
    with open(out / "overall.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rank", "student_a", "student_b", "score", "shared", "flagged", "flagged_questions", "page"])
        for rank, (p, questions) in enumerate(overall, start=1):
            writer.writerow([rank, ids[p.a], ids[p.b], f"{p.score:.4f}", p.shared, int(p.flagged), " ".join(questions),
                             page_name(p.a, p.b) if (p.a, p.b) in written else ""])
    with open(out / "questions.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "rank", "student_a", "student_b", "score", "shared", "size_a", "size_b",
                         "flagged", "page"])
        for question in sorted((q for q in table if q != OVERALL), key=question_order):
            for rank, p in enumerate(table[question], start=1):
                writer.writerow([question, rank, ids[p.a], ids[p.b], f"{p.score:.4f}", p.shared, p.size_a, p.size_b,
                                 int(p.flagged), page_name(p.a, p.b) if (p.a, p.b) in written else ""])
    omitted = len(dict.fromkeys(wanted)) - len(pages)
    (out / "index.html").write_text(_index(submissions, table, overall, settings, written, omitted), encoding="utf-8")
    return {"pairs_flagged": sum(1 for _, questions in overall if questions),
            "pages": len(pages), "pages_omitted": omitted}


def _row(ids: list[str], p: Pair, written: set[tuple[int, int]], extra: str = "", flag: bool | None = None) -> str:
    link = (f"<a href=\"{page_name(p.a, p.b)}\">view</a>" if (p.a, p.b) in written else "")
    return (f"<tr class=\"{'flag' if (p.flagged if flag is None else flag) else ''}\">"
            f"<td>{html.escape(ids[p.a])}</td><td>{html.escape(ids[p.b])}</td>"
            f"<td>{p.score:.2f}</td><td>{p.shared}</td>{extra}<td>{link}</td></tr>")


def _index(submissions: list[Submission], table: dict[str, list[Pair]], overall: list[tuple[Pair, list[str]]],
           settings: Settings, written: set[tuple[int, int]], omitted: int) -> str:
    ids = [s.student for s in submissions]
    problems = "".join(f"<li>{html.escape(s.student)}: {html.escape(problem)}</li>"
                       for s in submissions for problem in s.problems)
    head = "<tr><th>student</th><th>student</th><th>score</th><th>shared</th>"
    shown = [row for k, row in enumerate(overall) if row[1] or row[0].flagged or k < TOP]
    overall_rows = "".join(_row(ids, p, written, f"<td>{html.escape(' '.join(qs))}</td>", bool(qs or p.flagged))
                           for p, qs in shown)
    sections = []
    for question in sorted((q for q in table if q != OVERALL), key=question_order):
        pairs = table[question]
        rows = [p for k, p in enumerate(pairs) if p.flagged or k < TOP]
        flagged = sum(p.flagged for p in pairs)
        sections.append(f"<h3>{html.escape(question)}: {flagged} flagged of {len(pairs)} pairs sharing code</h3>"
                        f"<table>{head}<th>page</th></tr>{''.join(_row(ids, p, written) for p in rows)}</table>")
    body = (f"<h1>Code similarity: {len(submissions)} submissions</h1>"
            "<p>Only code a student wrote counts: what the student release gave (given code, stubs, docstrings) "
            "never does. Each function is attributed to its question (the question of the stub it fills, or of "
            "the stub that calls a helper); anything else changed is \"other\". Code is compared after "
            "normalisation (variable names, formatting, comments, docstrings and statement order do not matter). "
            "Score: the fraction of fingerprints the pair shares (1 = the same code once normalised).</p>"
            f"<p><b>Flagged</b> (red): score at least {settings.threshold} and at least {settings.min_shared} shared "
            "fingerprints. A flag is a reason to look, not a verdict.</p>"
            + (f"<p class=\"note\">{omitted} pair pages were not written (raise --max-pages); the CSVs list every "
               "pair.</p>" if omitted else "")
            + (f"<h2>Not compared</h2><ul>{problems}</ul>" if problems else "")
            + f"<h2>Overall</h2><p>overall.csv has every pair; shown: flagged and top {TOP}.</p>"
            f"<table>{head}<th>flagged questions</th><th>page</th></tr>{overall_rows}</table>"
            f"<h2>By question</h2><p>questions.csv has every pair; shown: flagged and top {TOP}.</p>"
            + "".join(sections))
    return _page("Code similarity", body)
