"""The course autograder: hidden pytest graders, run against a submission in isolated child processes.

Layout:
    registry.py   questions, probes and the discovery of grader modules
    child.py      the process that imports student code and runs a question's probes
    zygote.py     forks those children from a process that imported torch & co. once (preload.py)
    sandbox.py    asks a zygote for a child with a time limit, a memory limit and a quiet environment
    harness.py    runs the graders (pytest) in the deciding process and writes Gradescope's results.json
    graders/      one ``grade_<section>.py`` per outline section: probes and the checks with their points

Student code only ever runs in a child. A child returns raw outputs (tensors, numbers, strings); the
deciding process compares them with outputs of the reference solution, so nothing the student code does in its
own process can award points.
"""
