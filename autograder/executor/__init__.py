"""The trusted executor: runs a notebook in a sandboxed kernel (bubblewrap + ipykernel) and harvests it."""
from .bwrap import SandboxUnavailable, sandbox_available
from .execute import CellFailure, ExecutionResult, KernelStartError, Limits, execute_notebook
from ..protocol.harvest_request import HarvestRequest
from ..protocol.harvest_results import HarvestError, HarvestResults, ModelFile, read_results

__all__ = [
    "CellFailure", "ExecutionResult", "HarvestError", "HarvestRequest", "HarvestResults",
    "KernelStartError", "Limits", "ModelFile", "SandboxUnavailable", "execute_notebook",
    "read_results", "sandbox_available",
]
