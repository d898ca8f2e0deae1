"""The `submission` fixture: what the student's kernel produced, as data, for the hidden checks.

    submission.calls(function) -> [Outcome] one per case of `function` the checks asked for
    submission.values(names)  -> [Outcome] one per harvested value
    submission.call(name)     -> np.ndarray (or dict of arrays) returned by the student's function
    submission.model(name)    -> GradedModel rebuilt from the exported model
    submission.value(name)    -> a harvested global (JSON value or array)
    submission.request        -> the HarvestRequest of this run (inputs the checks chose)
    submission.status         -> "ok" | "timeout" | "crashed" | ...; submission.cell_failures

Any problem caused by the submission raises StudentError with a message fit for the student.
"""
from __future__ import annotations

from pathlib import Path

from autograder.checker.api import Outcome, StudentError
from autograder.checker.models import GradedModel, ModelLoadError, load_model
from autograder.protocol.harvest_results import HarvestError, read_results


class SubmissionResults:
    def __init__(self, results_dir: Path | None, request, execution: dict):
        self.request = request
        self.status = execution.get("status", "ok")
        self.cell_failures = execution.get("cell_failures", [])
        self._models: dict[str, GradedModel] = {}
        self._results = read_results(results_dir, self._describe_failure(execution.get("harvest_error")))

    def _describe_failure(self, harvest_error: str | None) -> str | None:
        """Why results may be missing: the cell that stopped the notebook says more than the harvest."""
        for failure in self.cell_failures:
            if failure.get("kind") in ("timeout", "kernel_died"):
                where = failure.get("grade_id") or f"cell {failure['index'] + 1}"
                return f"the notebook stopped at {where} ({failure['kind'].replace('_', ' ')}), so nothing could be checked"
        return harvest_error

    def calls(self, function: str) -> list[Outcome]:
        """The outcome of every case of `function`; a failed call carries the reason, in words."""
        outcomes = []
        for name in self.request.calls_of(function):
            args, kwargs = self.request.call_args(name)
            outcome = Outcome(self.request.label(name), args, kwargs, about=self.request.about(name))
            try:
                outcome.value = self.call(name)
            except StudentError as err:
                outcome.error = str(err)
            outcomes.append(outcome)
        return outcomes

    def call(self, name: str):
        try:
            return self._results.call(name)
        except HarvestError as err:
            function = self.request.call_function(name) if self.request else name
            raise StudentError(f"calling {function}() failed: {err}") from None

    def values(self, names: list[str]) -> list[Outcome]:
        """Harvested values as outcomes (label = the value's name), so that `score` gives credit per value."""
        outcomes = []
        for name in names:
            outcome = Outcome(name, (), {}, about=f"`{self.request.value_variable(name)}`")
            try:
                outcome.value = self.value(name)
            except StudentError as err:
                outcome.error = str(err)
            outcomes.append(outcome)
        return outcomes

    def value(self, name: str):
        try:
            return self._results.value(name)
        except HarvestError as err:
            raise StudentError(f"reading {self.request.value_variable(name)} failed: {err}") from None

    def model(self, name: str) -> GradedModel:
        if name not in self._models:
            try:
                exported = self._results.model(name)
                self._models[name] = load_model(exported.path, exported.framework)
            except HarvestError as err:
                variable = self.request.model_spec(name).get("variable", name)
                raise StudentError(
                    f"the grader could not save your model `{variable}` to rebuild it ({err}); keep the "
                    f"trained model in `{variable}`, built from standard Keras layers or PyTorch modules") from None
            except ModelLoadError as err:
                raise StudentError(str(err)) from None
        return self._models[name]
