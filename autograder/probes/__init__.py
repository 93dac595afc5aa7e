"""The probes: what a grading child imports and runs (see ``autograder/child.py``).

One module per section of the course, named like the package's module that holds its stubs (``encoder.py`` for
Q9–Q11 of ``seq2seq/encoder.py``), holding its questions (``question``), its probes (``@probe``: call the
student's code, return plain data) and the inputs they need; ``standins.py`` holds the grader's own versions of
other questions' answers, ``common.py`` the inputs and helpers several sections share (``attempt``, ``raised``:
student code whose error is the answer). Child processes import this package and nothing of
``autograder/graders/`` (the checks: expected relations, thresholds, messages), which only the deciding process
imports.
"""
