"""The trusted check process: runs a question's hidden checks (pytest) on harvested data only.

    runner.py              starts the process from the grader and reads its report
    plugin.py              pytest plugin inside the process: fixtures, points, the JSON report
    api.py                 what a check file imports (the check-writing helpers)
    submission_results.py  the `submission` fixture: harvested calls, values and models
    models.py              student models rebuilt from data (Keras safe_mode, torch.export)
"""
