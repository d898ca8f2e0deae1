# nbgrader configuration for this course. The autograder loads this same file, so
# `nbgrader formgrader`, `nbgrader export` and `python -m autograder` agree on every path.
import os

c = get_config()  # noqa: F821
root = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = root

c.CourseDirectory.course_id = "convnets"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
# Everything student-submitted or grade-bearing lives in the git-ignored workspace.
c.CourseDirectory.submitted_directory = "workspace/submitted"
c.CourseDirectory.autograded_directory = "workspace/autograded"
c.CourseDirectory.feedback_directory = "workspace/feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(root, "workspace", "gradebook.db")
c.Exchange.root = os.path.join(root, "workspace", "exchange")
c.Exchange.path_includes_course = True

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
