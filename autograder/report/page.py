"""The report as one self-contained HTML page: figures embedded as base64 PNGs, inline CSS, a few lines of inline
JavaScript that make the tables sortable (without it, they stay in the order written, which is already useful).

Every string that comes from grades.csv or results.json (student ids, reasons, check names, causes: student code
controls some of them) goes through :func:`html.escape`; numbers are formatted here, and an undefined value is
written as a dash with its reason, never as NaN.
"""
from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence

from autograder.report.load import NOT_GRADED, PARSED, STRUCTURED, ClassResults
from autograder.report.stats import POOR, Distribution, Failure, QuestionStats, Timing

CAUSE_CHARS = 600  # longer causes are cut on the page (the CSV holds them whole)
PER_QUESTION = 6   # failing (check, cause) rows shown per question (the CSV holds them all)

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 70em;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: .2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; } h3 { margin-bottom: .3em; }
.meta, .note { color: #555; } .note { font-size: 90%; max-width: 60em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.sortable th { cursor: pointer; } th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
.cause { white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 85%; max-width: 48em; }
.flag { color: #b33; font-weight: 600; } .undefined { color: #777; }
img { max-width: 100%; height: auto; display: block; margin: .5em 0; }
nav a { margin-right: 1em; } ul.checks { margin: 0; padding-left: 1.1em; font-size: 90%; }
.stub { color: #777; font-style: italic; font-size: 85%; }
"""

SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.title = "click to sort";
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0], col = th.cellIndex;
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    th.parentNode.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    function key(row) {
      var c = row.cells[col];
      return c.hasAttribute("data-v") ? c.getAttribute("data-v") : c.textContent;
    }
    Array.prototype.slice.call(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
      var d = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
      return ascending ? d : -d;
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def num(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def td(text: str, sort: float | str | None = None, numeric: bool = False, raw: bool = False, cls: str = "") -> str:
    """A cell: ``text`` escaped (unless ``raw``: markup made here), ``sort`` the value the script sorts by."""
    classes = " ".join(c for c in ("n" if numeric else "", cls) if c)
    attributes = (f' class="{classes}"' if classes else "") + (f' data-v="{esc(sort)}"' if sort is not None else "")
    return f"<td{attributes}>{text if raw else esc(text)}</td>"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], caption: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "\n".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return ('<table class="sortable">' + (f"<caption>{esc(caption)}</caption>" if caption else "")
            + f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>")


def image(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def cause(text: str) -> str:
    shown = text if len(text) <= CAUSE_CHARS else text[:CAUSE_CHARS] + " \u2026"
    return f'<div class="cause">{esc(shown) if shown else "<em>(no cause given)</em>"}</div>'


def overview(results: ClassResults) -> str:
    students = results.students
    counts = {status: sum(s.status == status for s in students) for status in ("graded", "flagged", NOT_GRADED)}
    scored = results.scored()
    sources = {source: sum(s.source == source for s in scored) for source in (STRUCTURED, PARSED)}
    maximum = sum(q.max_score for q in results.questions)
    questions = ", ".join(q.qid for q in results.questions) or "none"
    text = (f"<p>{len(students)} students in grades.csv: {counts['graded']} graded, {counts['flagged']} flagged "
            f"(scored, but to look at), {counts[NOT_GRADED]} not graded. <strong>Statistics cover the "
            f"{len(scored)} students with a score; the {counts[NOT_GRADED]} not graded (the grader failed, they have "
            f"no score) are excluded from every statistic on this page.</strong></p>"
            f"<p>Questions graded: {esc(questions)} ({maximum:g} points in all).</p>")
    detail = []
    if sources[STRUCTURED]:
        detail.append(f"{sources[STRUCTURED]} students' checks were read from results.json's structured "
                      "<code>extra_data</code>")
    if sources[PARSED]:
        detail.append(f"{sources[PARSED]} students' checks were parsed from the feedback text (their results.json "
                      "was written by an older autograder, without <code>extra_data</code>)")
    if detail:
        text += f"<p class=\"note\">Check details: {'; '.join(detail)}.</p>"
    return text


def distribution(stats: Distribution | None, png: bytes | None) -> str:
    if stats is None:
        return "<p>No student has a score: there is no distribution to show.</p>"
    rows = [("students with a score", f"{stats.n}"), ("maximum possible", f"{stats.max_possible:g}"),
            ("mean", num(stats.mean)), ("standard deviation", "\u2014" if stats.sd is None else num(stats.sd)),
            ("minimum", num(stats.minimum)), ("first quartile", num(stats.q1)), ("median", num(stats.median)),
            ("third quartile", num(stats.q3)), ("maximum", num(stats.maximum))]
    cells = [[td(name), td(value, numeric=True)] for name, value in rows]
    return (image(png, "histogram of the total scores") + table(["statistic", "points"], cells)
            + '<p class="note">Quartiles and median by linear interpolation between order statistics (NumPy\'s '
            "default, Hyndman &amp; Fan type 7, as R's default and Excel's QUARTILE.INC); standard deviation with "
            "n &minus; 1.</p>")


def flagged(results: ClassResults) -> str:
    rows = sorted((s for s in results.students if s.status != "graded"),
                  key=lambda s: (s.status != NOT_GRADED, s.student))
    if not rows:
        return "<p>None: every student was graded without a flag.</p>"
    cells = [[td(s.student), td(s.status, cls="flag" if s.status == NOT_GRADED else ""),
              td("\u2014" if s.total is None else f"{s.total:g}", sort=-1 if s.total is None else s.total,
                 numeric=True), td(cause(s.reason), raw=True)] for s in rows]
    return ('<p class="note"><em>Not graded</em>: the grader failed (a sandbox or check broke, the submission was '
            "modified during grading, ...), there is no score: grade them again. <em>Flagged</em>: scored, but "
            "look (e.g. no submission found).</p>" + table(["student", "status", "total", "reason"], cells))


def _discrimination_cell(row: QuestionStats) -> str:
    if row.discrimination is None:
        return td(f'<span class="undefined" title="{esc(row.undefined_why)}">\u2014 {esc(row.undefined_why)}</span>',
                  sort=-2, raw=True)
    return td(num(row.discrimination), sort=row.discrimination, numeric=True)


def questions(rows: list[QuestionStats], outcome_png: bytes | None, discrimination_png: bytes | None) -> str:
    if not rows:
        return "<p>No questions were graded.</p>"
    cells = [[td(r.question.qid, sort=int(r.question.qid[1:])), td(r.question.title), td(f"{r.question.max_score:g}",
              numeric=True), td(num(r.mean), numeric=True), td(pct(r.mean / r.question.max_score), sort=r.mean /
              r.question.max_score, numeric=True), td(pct(r.full), sort=r.full, numeric=True),
              td(pct(r.zero), sort=r.zero, numeric=True), td(pct(r.not_implemented), sort=r.not_implemented,
              numeric=True), _discrimination_cell(r), td(r.attention, cls="flag")] for r in rows]
    poor = [r.question.qid for r in rows if r.attention]
    return (table(["question", "title", "max", "mean", "mean % of max", "full marks", "zero", "not implemented",
                   "discrimination", "look at"], cells)
            + (f'<p class="flag">Discriminating poorly or negatively: {esc(", ".join(poor))}.</p>' if poor else "")
            + '<p class="note"><strong>Discrimination</strong> is the <em>corrected item-total correlation</em>: the '
            "Pearson correlation, over the students with a score, between a question's score and their total on the "
            "<em>other</em> questions (the question's own points are left out, so that it is not correlated with "
            "itself; Nunnally &amp; Bernstein, <em>Psychometric Theory</em>, 3rd ed., 1994). Ebel's guidelines "
            "(Ebel &amp; Frisbie, <em>Essentials of Educational Measurement</em>, 5th ed., 1991): 0.40 and above "
            "very good, 0.30&ndash;0.39 reasonably good, 0.20&ndash;0.29 marginal, below "
            f"{POOR:g} poor. A low or negative value means the question does not separate the students who do "
            "well on the rest from those who do not: check its graders and its wording. It is undefined when "
            "everyone scored the same on the question (or on the rest), or for fewer than 3 students.</p>"
            + image(outcome_png, "per question: shares of students with 0, partial credit and full marks")
            + image(discrimination_png, "per question: discrimination index"))


def _checks(names: tuple[str, ...]) -> str:
    shown = "".join(f"<li>{esc(name)}</li>" for name in names[:3])
    more = f"<li><em>and {len(names) - 3} more</em></li>" if len(names) > 3 else ""
    return f'<ul class="checks">{shown}{more}</ul>'


def _failure_rows(rows: list[Failure], with_question: bool) -> list[list[str]]:
    return [([td(f.qid, sort=int(f.qid[1:]))] if with_question else []) + [
        td(cause(f.cause) + ('<div class="stub">not attempted: the stub\'s NotImplementedError</div>'
                             if f.not_implemented else ""), raw=True),
        td(_checks(f.checks), sort=len(f.checks), raw=True),
        td(f"{f.students}", numeric=True), td(pct(f.share), sort=f.share, numeric=True)] for f in rows]


def mistakes(by_cause: dict[str, list[Failure]], top: list[Failure], results: ClassResults) -> str:
    if not any(by_cause.values()):
        return "<p>No failing checks were recorded.</p>"
    headers = ["cause told to the students", "checks that told it", "students", "share"]
    parts = [('<p class="note">Each row is a cause that failing checks told students (the same redacted text as '
              "their feedback), with the checks that told it, counted once per student; shares are of the students "
              "with a score. A cause that names another check comes from a check that counts only with it "
              "(<code>requires=</code>). How many students failed each check: checks.csv.</p>"),
             "<h3>The whole class: most frequent mistakes</h3>",
             ('<p class="note">Code left unimplemented (the stub\'s NotImplementedError) is not a misconception: it '
              "is left out of this list (the questions table counts it, column <em>not implemented</em>) and shown "
              "in grey in the tables per question.</p>"),
             table(["question", *headers], _failure_rows(top, True))]
    titles = {q.qid: q.title for q in results.questions}
    for qid, rows in by_cause.items():
        parts.append(f"<h3 id=\"mistakes-{esc(qid)}\">{esc(qid)} {esc(titles[qid])}</h3>")
        if not rows:
            parts.append("<p>No failing check.</p>")
            continue
        more = len(rows) - PER_QUESTION
        parts.append(table(headers, _failure_rows(rows[:PER_QUESTION], False))
                     + (f'<p class="note">{more} less frequent causes in failures.csv.</p>' if more > 0 else ""))
    return "\n".join(parts)


def timing(rows: list[Timing], png: bytes | None) -> str:
    if not rows:
        return ("<p>No per-question times in these results.json files (an older autograder wrote them); grading "
                "again records them.</p>")
    cells = [[td(r.question.qid, sort=int(r.question.qid[1:])), td(r.question.title), td(num(r.mean), sort=r.mean,
              numeric=True), td(num(r.maximum), sort=r.maximum, numeric=True), td(f"{r.n}", numeric=True)]
             for r in rows]
    return (table(["question", "title", "mean (s)", "max (s)", "students"], cells)
            + '<p class="note">Seconds per student: the question\'s child process (its probes on the submission) '
            "plus its checks; slowest first.</p>" + image(png, "grading time per question"))


def render(results: ClassResults, sections: dict[str, str], files: list[str]) -> str:
    """The page: ``sections`` maps a section's title to its HTML (made by the functions above)."""
    nav = " ".join(f'<a href="#s{i}">{esc(title)}</a>' for i, title in enumerate(sections))
    body = "\n".join(f'<section id="s{i}"><h2>{esc(title)}</h2>\n{content}</section>'
                     for i, (title, content) in enumerate(sections.items()))
    listing = ", ".join(f"<code>{esc(name)}</code>" for name in files)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Class report: {esc(results.grades_dir.name)}</title><style>{STYLE}</style></head><body>\n"
            f"<h1>Class report: {esc(results.grades_dir.name)}</h1>\n"
            f"<p class=\"meta\">Made by <code>python -m autograder report</code> from <code>grades.csv</code> and "
            f"the students' <code>results.json</code>. Written next to this page: {listing}.</p>\n"
            f"{overview(results)}\n<nav>{nav}</nav>\n{body}\n<script>{SORT_SCRIPT}</script>\n</body></html>\n")
