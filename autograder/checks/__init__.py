"""Hidden checks: pytest files run by the grader in a trusted process, never shown to students.

One file per question, `<homework>/test_<question>.py`, with this contract:

    NOTEBOOK = "<question>"                      # the notebook it grades
    def harvest(rng) -> HarvestRequest           # what to ask the student's kernel for
    @pytest.mark.points(n)
    def test_<something>(submission, ...):       # docstring's first line = title shown to students
        assert ..., "message shown to students: never an expected value"

Fixtures (autograder/checks/plugin.py): submission, profile, heldout, thresholds, credit.
"""
