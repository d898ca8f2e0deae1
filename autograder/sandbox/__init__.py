"""Sandboxed notebook execution: bubblewrap + ipykernel inside, executor outside."""
from .bwrap import SandboxUnavailable, sandbox_available
from .execute import CellFailure, ExecutionResult, KernelStartError, Limits, execute_notebook
from .harvest_request import HarvestRequest
from .results import HarvestError, HarvestResults, ModelFile, read_results

__all__ = [
    "CellFailure", "ExecutionResult", "HarvestError", "HarvestRequest", "HarvestResults",
    "KernelStartError", "Limits", "ModelFile", "SandboxUnavailable", "execute_notebook",
    "read_results", "sandbox_available",
]
