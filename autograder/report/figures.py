"""The report's figures, drawn with matplotlib's Agg backend (no display needed) and saved as PNG.

Every figure has a title, labelled axes with units, and colours from the Okabe-Ito palette (distinguishable with
the common colour-vision deficiencies). Each function returns the PNG's bytes, which the page embeds.
"""
from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, same output everywhere
import matplotlib.pyplot as plt

from autograder.report.stats import POOR, Distribution, QuestionStats, Timing

GREEN, ORANGE, VERMILLION, BLUE, GREY = "#009E73", "#E69F00", "#D55E00", "#0072B2", "#999999"
DPI = 100


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _height(rows: int) -> float:
    return max(2.6, 1.2 + 0.32 * rows)


def histogram(totals: list[float], stats: Distribution) -> bytes:
    """The totals' histogram, one bar per point (per 5 % of the maximum above 30 points), centred on its value,
    with the mean, the median and the quartiles."""
    figure, axes = plt.subplots(figsize=(8, 3.8))
    top = stats.max_possible or max(totals) or 1.0
    width = 1.0 if top <= 30 else top / 20
    edges = [width * (i - 0.5) for i in range(math.ceil(top / width) + 2)]
    axes.hist(totals, bins=edges, color=BLUE, edgecolor="white")
    axes.axvspan(stats.q1, stats.q3, color=GREY, alpha=0.25, label=f"quartiles {stats.q1:.2f}-{stats.q3:.2f}")
    axes.axvline(stats.mean, color=VERMILLION, linestyle="--", label=f"mean {stats.mean:.2f}")
    axes.axvline(stats.median, color="black", label=f"median {stats.median:.2f}")
    axes.set(title=f"Distribution of total scores ({stats.n} students with a score)",
             xlabel=f"total score (points, out of {stats.max_possible:g})", ylabel="students",
             xlim=(edges[0], edges[-1]))
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="best", frameon=False)
    return _png(figure)


def outcomes(rows: list[QuestionStats]) -> bytes:
    """Per question, the shares of students with 0, part of the points and full marks (stacked, in %)."""
    figure, axes = plt.subplots(figsize=(8, _height(len(rows))))
    labels = [r.question.qid for r in rows][::-1]
    zero = [100 * r.zero for r in rows][::-1]
    full = [100 * r.full for r in rows][::-1]
    partial = [100 - z - f for z, f in zip(zero, full)]
    axes.barh(labels, zero, color=VERMILLION, label="0 points")
    axes.barh(labels, partial, left=zero, color=ORANGE, label="partial credit")
    axes.barh(labels, full, left=[z + p for z, p in zip(zero, partial)], color=GREEN, label="full marks")
    axes.set(title="Outcome per question", xlabel="students (% of those with a score)", ylabel="question",
             xlim=(0, 100))
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 - 0.4 / len(rows)), ncol=3, frameon=False)
    return _png(figure)


def discrimination(rows: list[QuestionStats]) -> bytes:
    """Per question, the corrected item-total correlation, with Ebel's 0.2 line; undefined ones say so."""
    figure, axes = plt.subplots(figsize=(8, _height(len(rows))))
    rows = rows[::-1]
    values = [r.discrimination if r.discrimination is not None else 0.0 for r in rows]
    colours = [GREY if r.discrimination is None else VERMILLION if r.attention else BLUE for r in rows]
    axes.barh([r.question.qid for r in rows], values, color=colours)
    for index, row in enumerate(rows):
        if row.discrimination is None:
            axes.text(0.02, index, "undefined", va="center", fontsize=8, color="#555555")
    axes.axvline(POOR, color="black", linestyle=":", label=f"{POOR:g}: below is poor (Ebel)")
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set(title="Discrimination per question (corrected item-total correlation)",
             xlabel="Pearson r of the question's score with the total of the other questions (unitless)",
             ylabel="question", xlim=(min(-0.2, *values) - 0.05, 1.0))
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22 - 0.4 / len(rows)), frameon=False)
    return _png(figure)


def timing(rows: list[Timing]) -> bytes:
    """Per question, the mean grading time per student (bars) and the longest (diamonds), slowest on top."""
    figure, axes = plt.subplots(figsize=(8, _height(len(rows))))
    rows = rows[::-1]
    labels = [r.question.qid for r in rows]
    axes.barh(labels, [r.mean for r in rows], color=BLUE, label="mean over students")
    axes.plot([r.maximum for r in rows], labels, "D", color=VERMILLION, label="slowest student")
    axes.set(title="Grading time per question", xlabel="seconds per student (probes in the child + checks)",
             ylabel="question", xlim=(0, max(r.maximum for r in rows) * 1.1 or 1.0))
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22 - 0.4 / len(rows)), ncol=2, frameon=False)
    return _png(figure)
