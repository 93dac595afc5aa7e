"""Hidden checks, one ``grade_<section>.py`` per section (beside ``autograder/probes/<section>.py``), and
``common.py``, what they share. Never copied to the student release; never imported by a grading child."""
