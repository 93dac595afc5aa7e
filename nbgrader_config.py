"""nbgrader configuration for the course (run nbgrader from the repository root).

``tools/generate.py`` (``make generate``) calls ``nbgrader generate_assignment`` with this file, in a throw-away
course root, for the notebooks; it strips the ``.py`` modules itself, since nbgrader copies those verbatim.
"""
c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "attention-seq2seq-course"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# Stubs look the same in notebooks as in the .py modules that tools/generate.py strips.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
