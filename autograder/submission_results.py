"""The `submission` fixture: what the student's kernel produced, as data, for the hidden checks.

    submission.call(name)     -> np.ndarray (or dict of arrays) returned by the student's function
    submission.model(name)    -> GradedModel rebuilt from the exported model
    submission.value(name)    -> a harvested global (JSON value or array)
    submission.request        -> the HarvestRequest of this run (inputs the checks chose)
    submission.status         -> "ok" | "timeout" | "crashed" | ...; submission.cell_failures

Any problem caused by the submission raises StudentError with a message fit for the student.
"""
from __future__ import annotations

from pathlib import Path

from autograder.checks.api import StudentError
from autograder.models import GradedModel, ModelLoadError, load_model
from autograder.sandbox.results import HarvestResults, ResultsError


class SubmissionResults:
    def __init__(self, results_dir: Path | None, request, execution: dict):
        self.request = request
        self.status = execution.get("status", "ok")
        self.cell_failures = execution.get("cell_failures", [])
        self._models: dict[str, GradedModel] = {}
        self._results = None
        self._why_missing = None
        if results_dir is None:
            self._why_missing = self._describe_failure() or "the notebook produced no results"
        else:
            try:
                self._results = HarvestResults(results_dir)
            except ResultsError as err:
                self._why_missing = f"the grader could not read your notebook's results ({err})"

    def _describe_failure(self) -> str | None:
        for failure in self.cell_failures:
            if failure.get("kind") in ("timeout", "kernel_died"):
                where = failure.get("grade_id") or f"cell {failure.get('index')}"
                return f"the notebook stopped at {where}: {failure.get('message', failure['kind'])}"
        return None

    def _results_or_fail(self):
        if self._results is None:
            raise StudentError(self._why_missing)
        return self._results

    def call(self, name: str):
        try:
            return self._results_or_fail().call(name)
        except ResultsError as err:
            raise StudentError(str(err)) from None

    def value(self, name: str):
        try:
            return self._results_or_fail().value(name)
        except ResultsError as err:
            raise StudentError(str(err)) from None

    def model(self, name: str) -> GradedModel:
        if name not in self._models:
            try:
                path, framework = self._results_or_fail().model_file(name)
                self._models[name] = load_model(path, framework)
            except (ResultsError, ModelLoadError) as err:
                raise StudentError(str(err)) from None
        return self._models[name]
