"""What ``python -m autograder similarity`` writes: ranked CSVs, an index page and one page per pair.

* ``overall.csv``: every pair that shares any unexpected code, ranked by how many questions flag it, then by the
  evidence of its matching questions and its overall score; ``questions.csv``: per question, every such pair,
  flagged and judged first, then by score. Both say which pairs are flagged and name the pair's page.
* ``index.html``: how the score is made, the settings, what could not be read, the flagged pairs and the top of
  each ranking.
* ``pairs/<pair>.html``: what the pair's score is made of (shared fingerprints equal to the reference solution,
  common in the class, rare; questions judged or not), then the two students' counted code side by side,
  question by question, with the statements that match the other side and those equal to the reference marked.
  Pages are written for flagged pairs first, then the best-ranked, up to ``max_pages``; the index says how many
  were left out.

Every page is self-contained (inline CSS, no script) and every piece of student text (code, ids, file names)
is HTML-escaped: a submission cannot inject markup into the report.
"""
from __future__ import annotations

import csv
import html
from pathlib import Path

from autograder.similarity.compare import OVERALL, Basis, Pair, Settings, Table, breakdown, question_order
from autograder.similarity.extract import Submission, Unit

TOP = 10  # rows of each ranking shown on the index besides the flagged pairs
_CSS = """
body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}tr.flag td{background:#fde2e1}
tr.unjudged td{color:#888}.cols{display:flex;gap:1em}.col{flex:1;min-width:0}pre{background:#fafafa;
border:1px solid #ddd;padding:.4em;overflow-x:auto;font-size:12px;line-height:1.35}span{display:block}
span.match{background:#ffd27a}span.common{background:#fff1cc}span.expected{background:#dde9fb}
span.given{color:#999}.note{color:#555}
"""
_HOW = ("Only code a student wrote counts: what the student release gave (given code, stubs, docstrings and the "
        "code they spell out) never does. Each function is attributed to its question (the question of the stub it "
        "fills, or of the stub that calls a helper); anything else changed is \"other\". Code is compared after "
        "normalisation (variable names, formatting, comments, docstrings and statement order do not matter), as "
        "fingerprints (5-token pieces of each statement). What a pair shares counts only as far as independent "
        "students would not share it: fingerprints of the reference solution's answer are <b>expected</b> and "
        "count for nothing; fingerprints held by many students who answered the question are <b>common</b> and "
        "count less, down to nothing when everybody holds them; the rest are <b>rare</b> and count 1. A student's "
        "<b>material</b> is the weight of their fingerprints that are not expected; the pair's <b>evidence</b> the "
        "weight of those they share; the <b>score</b> is 2 × evidence / (material of one + of the other): 1 for "
        "the same code once normalised. ")


def _rule(settings: Settings) -> str:
    return (f"A question is <b>judged</b> when both students have at least {settings.min_shared:g} of material (else "
            "it holds too little distinctive code to tell a copy from convergence), and <b>flagged</b> when judged "
            f"with a score of at least {settings.threshold:g} and at least {settings.min_shared:g} of evidence. A pair "
            "is flagged when a question is, or when the questions on which it scores at least "
            f"{settings.threshold:g} (judged or not) hold together at least {settings.pooled:g} of evidence. Common: "
            f"held by more than {settings.rare} students, or {settings.rare_fraction:.0%} of those who answered the "
            "question if more. A flag is a reason to look, not a verdict.")


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n")


def page_name(a: int, b: int) -> str:
    """The file of a pair's page, from the students' positions (ids may hold any character)."""
    return f"pairs/{a:04d}-{b:04d}.html"


def _status(prints: frozenset[int], other: frozenset[int], question: str, basis: Basis) -> str:
    """How a statement is shown: mostly the reference's (expected), mostly shared with the other side (match, or
    common when what it shares is common in the class), or the student's own."""
    expected = prints & basis.reference.get(question, frozenset())
    if 2 * len(expected) >= len(prints):
        return "expected"
    rest = prints - expected
    shared = rest & other
    if 2 * len(shared) < len(rest):
        return "own"
    return "match" if 2 * sum(basis.weight(question, p) for p in shared) >= len(shared) else "common"


def _code(units: list[Unit], other: frozenset[int], question: str, basis: Basis) -> str:
    """A student's units as escaped ``<pre>`` blocks, each counted statement marked by :func:`_status`, the rest
    (given code, docstrings, comments) greyed."""
    rank = {"match": 3, "common": 2, "expected": 1, "own": 0}
    blocks = []
    for unit in units:
        status: dict[int, str] = {}
        for statement in unit.statements:
            mark = _status(statement.prints, other, question, basis)
            for line in range(statement.first, statement.last + 1):
                if rank[mark] >= rank.get(status.get(line, "own"), 0):
                    status[line] = mark
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


def _made_of(a: Submission, b: Submission, table: Table, overall: Pair | None) -> tuple[str, str, list[str]]:
    """The pair's breakdown: a summary paragraph, the per-question rows, the questions both answered."""
    basis, settings = table.basis, table.basis.settings
    rows, both, unjudged, flagged = [], [], [], []
    totals = [0, 0, 0, 0.0, 0]
    for question in sorted(basis.answered, key=question_order):
        left, right = a.prints(question), b.prints(question)
        if not left or not right:
            continue
        both.append(question)
        d = breakdown(left, right, question, basis)
        totals = [totals[0] + d.shared, totals[1] + d.expected, totals[2] + d.common, totals[3] + d.common_weight,
                  totals[4] + d.rare]
        if d.flagged:
            flagged.append(question)
        elif not d.judged:
            unjudged.append(question)
        css = "flag" if d.flagged else "" if d.judged else "unjudged"
        rows.append(f"<tr class=\"{css}\"><td>{html.escape(question)}</td><td>{d.score:.2f}</td>"
                    f"<td>{d.evidence:.1f}</td><td>{d.shared}</td><td>{d.expected}</td>"
                    f"<td>{d.common} (as {d.common_weight:.1f})</td><td>{d.rare}</td><td>{d.material_a:.1f}</td>"
                    f"<td>{d.material_b:.1f}</td><td>{'yes' if d.judged else 'no: too little'}</td>"
                    f"<td>{'yes' if d.flagged else ''}</td></tr>")
    shared, expected, common, common_weight, rare = totals
    matching = overall.matching if overall else 0.0
    verdict = (f"flagged on {', '.join(flagged)}" if flagged else
               f"flagged as a whole: the questions on which it scores at least {settings.threshold:g} hold "
               f"{matching:.1f} of evidence together" if overall and overall.flagged else "not flagged")
    summary = (f"<p><b>What the score is made of.</b> On the {len(both)} questions both answered they share "
               f"{shared} fingerprints: {expected} equal to the reference solution (expected: not counted), "
               f"{common} common in the class (counted as {common_weight:.1f}) and {rare} rare (1 each). "
               f"{len(both) - len(unjudged)} questions judged; {len(unjudged)} not judged, too little distinctive "
               f"material{': ' + ', '.join(unjudged) if unjudged else ''}. Overall score "
               f"{overall.score if overall else 0.0:.2f}, evidence {overall.evidence if overall else 0.0:.1f}; "
               f"{verdict}.</p>")
    return summary, "".join(rows), both


def pair_page(a: Submission, b: Submission, table: Table, overall: Pair | None = None) -> str:
    """The page of one pair: what its score is made of, then the code side by side per question."""
    basis = table.basis
    summary, rows, questions = _made_of(a, b, table, overall)
    sections = []
    for question in questions:
        left = [u for u in a.units if u.question == question]
        right = [u for u in b.units if u.question == question]
        d = breakdown(a.prints(question), b.prints(question), question, basis)
        sections.append(f"<h2>{html.escape(question)}: score {d.score:.2f}, evidence {d.evidence:.1f}</h2>"
                        f"<div class=\"cols\"><div class=\"col\"><h3>{html.escape(a.student)}</h3>"
                        f"{_code(left, b.prints(question), question, basis)}</div><div class=\"col\">"
                        f"<h3>{html.escape(b.student)}</h3>{_code(right, a.prints(question), question, basis)}</div>"
                        "</div>")
    body = (f"<h1>{html.escape(a.student)} and {html.escape(b.student)}</h1>"
            f"<p><a href=\"../index.html\">back to the index</a>.</p>{summary}"
            f"<p class=\"note\">{_HOW}{_rule(basis.settings)}</p>"
            "<p class=\"note\">In the code: <span class=\"match\" style=\"display:inline\">orange</span>, statements "
            "that match the other student's on the same question; <span class=\"common\" style=\"display:inline\">"
            "pale</span>, matching but common in the class; <span class=\"expected\" style=\"display:inline\">"
            "blue</span>, as the reference solution; grey, what does not count (given by the release, docstrings, "
            "comments, statements too short to tell anything, such as <code>continue</code>).</p>"
            "<table><tr><th>question</th><th>score</th><th>evidence</th><th>shared</th><th>equal to the reference "
            "(not counted)</th><th>common</th><th>rare</th>"
            f"<th>material {html.escape(a.student)}</th><th>material {html.escape(b.student)}</th>"
            f"<th>judged</th><th>flagged</th></tr>{rows}</table>{''.join(sections)}")
    return _page(f"{a.student} and {b.student}", body)


def _ranked_overall(table: Table) -> list[tuple[Pair, list[str]]]:
    flagged = table.flagged_questions()
    rows = [(p, flagged.get((p.a, p.b), [])) for p in table.pairs.get(OVERALL, [])]
    return sorted(rows, key=lambda row: (-len(row[1]), -row[0].flagged, -row[0].matching, -row[0].score,
                                         row[0].a, row[0].b))


def write(out: Path, submissions: list[Submission], table: Table, settings: Settings, *,
          max_pages: int = 500) -> dict[str, int]:
    """Write the CSVs, the pages and the index under ``out``; return counts for the command's summary line."""
    (out / "pairs").mkdir(parents=True, exist_ok=True)
    overall = _ranked_overall(table)
    wanted = [(p.a, p.b) for p, questions in overall if questions or p.flagged]
    wanted += [(p.a, p.b) for pairs in table.pairs.values() for p in pairs[:TOP]]
    pages = list(dict.fromkeys(wanted))[:max_pages]
    written = set(pages)
    by_pair = {(p.a, p.b): p for p, _ in overall}
    for a, b in pages:
        (out / page_name(a, b)).write_text(pair_page(submissions[a], submissions[b], table, by_pair.get((a, b))),
                                           encoding="utf-8")
    ids = [s.student for s in submissions]
    with open(out / "overall.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rank", "student_a", "student_b", "score", "evidence", "matching", "shared", "flagged",
                         "flagged_questions", "page"])
        for rank, (p, questions) in enumerate(overall, start=1):
            writer.writerow([rank, ids[p.a], ids[p.b], f"{p.score:.4f}", f"{p.evidence:.2f}", f"{p.matching:.2f}",
                             p.shared, int(p.flagged), " ".join(questions),
                             page_name(p.a, p.b) if (p.a, p.b) in written else ""])
    with open(out / "questions.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "rank", "student_a", "student_b", "score", "evidence", "shared", "material_a",
                         "material_b", "judged", "flagged", "page"])
        for question in sorted((q for q in table.pairs if q != OVERALL), key=question_order):
            for rank, p in enumerate(table.pairs[question], start=1):
                writer.writerow([question, rank, ids[p.a], ids[p.b], f"{p.score:.4f}", f"{p.evidence:.2f}", p.shared,
                                 f"{p.material_a:.2f}", f"{p.material_b:.2f}", int(p.judged), int(p.flagged),
                                 page_name(p.a, p.b) if (p.a, p.b) in written else ""])
    omitted = len(dict.fromkeys(wanted)) - len(pages)
    (out / "index.html").write_text(_index(submissions, table, overall, settings, written, omitted), encoding="utf-8")
    return {"pairs_flagged": sum(1 for p, questions in overall if questions or p.flagged),
            "pages": len(pages), "pages_omitted": omitted}


def _row(ids: list[str], p: Pair, written: set[tuple[int, int]], extra: str = "", flag: bool | None = None) -> str:
    link = (f"<a href=\"{page_name(p.a, p.b)}\">view</a>" if (p.a, p.b) in written else "")
    css = "flag" if (p.flagged if flag is None else flag) else "" if p.judged else "unjudged"
    return (f"<tr class=\"{css}\"><td>{html.escape(ids[p.a])}</td><td>{html.escape(ids[p.b])}</td>"
            f"<td>{p.score:.2f}</td><td>{p.evidence:.1f}</td>{extra}<td>{link}</td></tr>")


def _index(submissions: list[Submission], table: Table, overall: list[tuple[Pair, list[str]]],
           settings: Settings, written: set[tuple[int, int]], omitted: int) -> str:
    ids = [s.student for s in submissions]
    problems = "".join(f"<li>{html.escape(s.student)}: {html.escape(problem)}</li>"
                       for s in submissions for problem in s.problems)
    head = "<tr><th>student</th><th>student</th><th>score</th><th>evidence</th>"
    shown = [row for k, row in enumerate(overall) if row[1] or row[0].flagged or k < TOP]
    overall_rows = "".join(_row(ids, p, written, f"<td>{p.matching:.1f}</td><td>{html.escape(' '.join(qs))}</td>",
                                bool(qs or p.flagged)) for p, qs in shown)
    sections = []
    for question in sorted((q for q in table.pairs if q != OVERALL), key=question_order):
        pairs = table.pairs[question]
        rows = [p for k, p in enumerate(pairs) if p.flagged or k < TOP]
        flagged, judged = sum(p.flagged for p in pairs), sum(p.judged for p in pairs)
        sections.append(f"<h3>{html.escape(question)}: {flagged} flagged, {judged} judged, of {len(pairs)} pairs "
                        f"sharing unexpected code ({table.basis.answered.get(question, 0)} students answered; common: "
                        f"held by more than {table.basis.limit(question):g})</h3>"
                        f"<table>{head}<th>page</th></tr>{''.join(_row(ids, p, written) for p in rows)}</table>")
    body = (f"<h1>Code similarity: {len(submissions)} submissions</h1><p>{_HOW}</p><p>{_rule(settings)} Red: "
            "flagged; grey: not judged.</p>"
            + (f"<p class=\"note\">{omitted} pair pages were not written (raise --max-pages); the CSVs list every "
               "pair.</p>" if omitted else "")
            + (f"<h2>Not compared</h2><ul>{problems}</ul>" if problems else "")
            + f"<h2>Overall</h2><p>overall.csv has every pair; shown: flagged and top {TOP}.</p>"
            f"<table>{head}<th>evidence of matching questions</th><th>flagged questions</th><th>page</th></tr>"
            f"{overall_rows}</table>"
            f"<h2>By question</h2><p>questions.csv has every pair; shown: flagged and top {TOP}.</p>"
            + "".join(sections))
    return _page("Code similarity", body)
