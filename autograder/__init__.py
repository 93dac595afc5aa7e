"""The course autograder: hidden pytest graders, run against a submission in isolated child processes.

Layout:
    registry.py   questions, probes, gating (``requires=``) and the discovery of probe and check modules
    probes/       one module per section of the course (``encoder.py`` ... as the package's modules): its questions
                  and probes; ``standins.py`` the grader's own versions of other questions' answers, ``common.py``
                  inputs and helpers they share (all that a child imports or reads)
    graders/      one ``grade_<section>.py`` per section: the checks with their points; ``common.py`` what they
                  share (``hinted``: a failed probe's error with the likely cause). Deciding process only; no check
                  module imports another, nor the harness
    child.py      the process that imports student code and runs a question's probes
    zygote.py     forks those children from a process that imported torch & co. and the probes once (preload.py)
    sandbox.py    asks a zygote for a child with time, memory and disk limits and a quiet environment
    isolation.py  what else confines a child: its own uid, no network, Landlock (landlock.py); staged copies
    submission.py what a submission may hold, and the one reader of it (no link followed, no FIFO opened, limits)
    provided.py   provided code comes from the release: the graded package is the release with the student's answers
    harness.py    computes the reference's outputs first, runs the checks (pytest, pytest.ini) and builds results.json
    results.py    the three outcomes of a grading (graded, flagged, not graded) and the one failure policy
    redact.py     keeps the hidden graders' code and the reference's answers out of any text student code controls
    bulk.py, cli.py (__main__.py), gradescope.py, notebook.py, feedback.py   grade-all, the command line,
                  Gradescope, nbgrader
    grades.py     grades.csv, grade-all's class table: written by bulk.py, read by lms.py, regrade.py and report/
    lms.py        grades out to Canvas and a plain CSV through a roster (``export``)
    regrade.py    what changed between two grade-all runs (``compare``, ``grade-all --compare``)
    limits.py     the Gradescope submission limit (N graded submissions per window), read from Gradescope's metadata
    report/       the class report of grade-all's output: statistics, common mistakes, timing (HTML, PNG, CSV)
    similarity/   after grading: which students wrote the same code, question by question (never runs it)

Student code only ever runs in a child. A child returns raw outputs (tensors, numbers, strings); the
deciding process compares them with outputs of the reference solution, so nothing the student code does in its
own process can award points.
"""
