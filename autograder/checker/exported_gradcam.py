"""Grad-CAM computed by the grader on a student's PyTorch model, rebuilt as a torch.export program.

The program is a graph of ATen operators whose nodes remember the module they ran in
(`nn_module_stack`). The graph is run with one node's output replaced by a leaf tensor, and the
gradient of a class score is taken with respect to it: the classic Grad-CAM of that layer, without
running any of the student's code. Also the rule both Grad-CAM questions judge heatmaps by
(`defined_calls`). Check files import these from `autograder.checker.api`.
"""
from __future__ import annotations

import numpy as np

CONV_OPS = ("aten.conv2d.default", "aten.convolution.default")


class ExportedGradCam:
    """Grad-CAM on the graph of a torch.export program, at the output of one of its nodes."""

    def __init__(self, graph_module, node):
        self.graph_module, self.node = graph_module, node
        self.spatial = tuple(int(d) for d in node.meta["val"].shape[2:])   # (N, C, H, W)

    def __call__(self, img_nchw, pred_index=None):
        """The normalised heatmap; None when the class has no positive evidence (undefined normalisation)."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(img_nchw, dtype=np.float32))
        scores, feature_maps = forward_exposing(self.graph_module, self.node.name, x)
        if pred_index is None:
            pred_index = int(scores[0].argmax())
        grads, = torch.autograd.grad(scores[0, pred_index], feature_maps)
        weights = grads[0].mean(dim=(1, 2))
        cam = torch.relu((weights[:, None, None] * feature_maps[0].detach()).sum(dim=0)).numpy()
        peak = cam.max()
        return cam / peak if peak > 1e-7 else None


def forward_exposing(graph_module, node_name, x):
    """(scores, feature maps): the graph run on x, the value of node `node_name` replaced by a leaf
    tensor that requires grad, so that gradients can be taken with respect to it. A clone of the
    leaf continues the graph: an in-place op after it (relu_) must not modify the leaf."""
    import torch

    exposed = {}

    class Exposing(torch.fx.Interpreter):
        def run_node(self, node):
            out = super().run_node(node)
            if node.name != node_name:
                return out
            exposed["feature_maps"] = out.detach().requires_grad_(True)
            return exposed["feature_maps"].clone()

    with torch.enable_grad():
        scores = Exposing(graph_module).run(x)
    if isinstance(scores, (tuple, list)):
        scores = scores[0]
    return scores, exposed["feature_maps"]


def module_of(node) -> str:
    """The name (as named_modules() gives it) of the innermost module a graph node ran in."""
    stack = node.meta.get("nn_module_stack") or {}
    return list(stack.values())[-1][0] if stack else ""


def module_outputs(graph_module) -> dict:
    """{module name: the graph node of its output} for every module the forward pass runs: the last
    node that ran inside it."""
    outputs = {}
    for node in graph_module.graph.nodes:
        if node.op == "call_function":
            for name, _ in (node.meta.get("nn_module_stack") or {}).values():
                if name:
                    outputs[name] = node
    return outputs


def conv_nodes(graph_module) -> list:
    """The convolutions of the graph, in the order the forward pass runs them."""
    return [n for n in graph_module.graph.nodes if n.op == "call_function" and str(n.target) in CONV_OPS]


def has_positive_value(value) -> bool:
    """A numeric array with a positive finite value: what a heatmap with any evidence has."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf" or not value.size:
        return False
    return bool(np.where(np.isfinite(value), value, 0).max() > 0)


def defined_calls(outcomes, reference) -> list:
    """The calls whose heatmap is defined: those where `reference(outcome)`, the grader's heatmap,
    is not None (the class has positive evidence); when the model cannot be used (`reference` raises
    StudentError), the calls whose heatmap has a positive value (a correct heatmap with no evidence
    is all zeros or NaN), and every call that failed."""
    from autograder.checker.api import StudentError   # api re-exports this module

    try:
        return [o for o in outcomes if reference(o) is not None]
    except StudentError:
        return [o for o in outcomes if not o.ok or has_positive_value(o.value)]
