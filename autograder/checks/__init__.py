"""Hidden checks: one pytest file per question, `<homework>/test_<question>.py`, run by the grader
in the trusted check process (autograder/checker/) and never shown to students."""
