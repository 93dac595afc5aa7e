"""The probes: what a grading child imports and runs (see ``autograder/child.py``).

One module per section of the course, holding its questions (``question``), its probes (``@probe``: call the
student's code, return plain data) and the stand-ins and inputs they need. Child processes import this
package and nothing of ``autograder/graders/`` (the checks: expected relations, thresholds, messages), which
only the deciding process imports.
"""
