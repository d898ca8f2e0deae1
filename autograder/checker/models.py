"""Student models rebuilt in the trusted process from data only.

Keras models arrive as `.keras` files (JSON config + weights) and are rebuilt with
`safe_mode=True`, which refuses Lambda layers and unknown classes: no student code runs here.
PyTorch models arrive as `torch.export` programs (a graph of ATen operators + tensors), which
describe the computation without any student Python; the archive format may also carry pickled
objects, so it is loaded with every unpickling path restricted to plain tensors, and it may carry
an AOTInductor package (a shared library), which is refused. Checks use one framework-agnostic surface:

    model.framework                   "keras" | "torch"
    model.count_params()              (total, trainable), computed from the rebuilt weights
    model.predict(x_nhwc)             outputs for float32 NHWC input (transposed for torch)
    model.conv_layers()               [{"filters", "kernel_size", "output_shape" (H, W, C)}, ...]
    model.keras_model / torch_module  the rebuilt framework object, for framework-specific checks
"""
from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path

import numpy as np


class ModelLoadError(Exception):
    """The exported model could not be rebuilt; the message is safe to show the student."""


def load_model(path: Path, framework: str) -> "GradedModel":
    if framework == "keras":
        return KerasModel(path)
    if framework == "torch":
        return TorchModel(path)
    raise ModelLoadError(f"unsupported model framework '{framework}' (use Keras or PyTorch)")


class GradedModel:
    framework: str
    keras_model = None
    torch_module = None

    def count_params(self) -> tuple[int, int]:
        raise NotImplementedError

    def predict(self, x_nhwc: np.ndarray, batch_size: int = 256) -> np.ndarray:
        outputs = [self._forward(np.asarray(x_nhwc[i:i + batch_size], dtype=np.float32))
                   for i in range(0, len(x_nhwc), batch_size)]
        return np.concatenate(outputs)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def conv_layers(self) -> list[dict]:
        raise NotImplementedError


class KerasModel(GradedModel):
    framework = "keras"

    def __init__(self, path: Path):
        import keras

        _check_archive(path)
        try:
            self.keras_model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as err:
            raise ModelLoadError(
                "the grader could not rebuild your Keras model from its saved form "
                f"({type(err).__name__}); use built-in layers only (no Lambda or custom classes)"
            ) from None

    def count_params(self) -> tuple[int, int]:
        model = self.keras_model
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        return int(model.count_params()), trainable

    def _forward(self, batch):
        return np.asarray(self.keras_model(batch, training=False))

    def conv_layers(self) -> list[dict]:
        import keras

        layers = []
        for layer in _flatten_keras(self.keras_model):
            if isinstance(layer, keras.layers.Conv2D):
                layers.append({
                    "filters": int(layer.filters),
                    "kernel_size": tuple(int(k) for k in layer.kernel_size),
                    "output_shape": tuple(int(d) for d in layer.output.shape[1:]),
                    "name": layer.name,
                })
        return layers


def _flatten_keras(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):  # nested Sequential / Functional
            yield from _flatten_keras(layer)
        else:
            yield layer


class TorchModel(GradedModel):
    framework = "torch"

    def __init__(self, path: Path):
        import torch

        _check_archive(path, forbidden=("/aotinductor/", ".so", ".dll", ".dylib", ".cpp"))
        try:
            with _tensors_only_unpickling():
                self.program = torch.export.load(str(path))
            self.torch_module = self.program.module()
        except Exception as err:
            raise ModelLoadError(
                f"the grader could not rebuild your PyTorch model from torch.export ({type(err).__name__})"
            ) from None

    def count_params(self) -> tuple[int, int]:
        params = dict(self.torch_module.named_parameters())
        total = sum(p.numel() for p in params.values())
        trainable = sum(p.numel() for p in params.values() if p.requires_grad)
        return int(total), int(trainable)

    def _forward(self, batch):
        import torch

        nchw = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        # A program exported with a fixed batch size (export could not make it dynamic) is fed in
        # chunks of that size.
        step = self._static_batch() or len(nchw)
        outputs = []
        with torch.no_grad():
            for start in range(0, len(nchw), step):
                chunk = nchw[start:start + step]
                missing = step - len(chunk)
                if missing:
                    chunk = np.concatenate([chunk, np.zeros((missing, *chunk.shape[1:]), chunk.dtype)])
                out = self.torch_module(torch.from_numpy(chunk)).detach().cpu().numpy()
                outputs.append(out[:step - missing])
        return np.concatenate(outputs)

    def _static_batch(self) -> int | None:
        for node in self.program.graph.nodes:
            if node.op == "placeholder" and node.name not in self.program.graph_signature.inputs_to_parameters \
                    and node.name not in self.program.graph_signature.inputs_to_buffers:
                size = node.meta["val"].shape[0]
                return int(size) if isinstance(size, int) else None
        return None

    def conv_layers(self) -> list[dict]:
        import torch

        layers = []
        for node in self.program.graph.nodes:
            if node.op == "call_function" and node.target in (torch.ops.aten.conv2d.default,
                                                             torch.ops.aten.convolution.default):
                weight = node.args[1].meta["val"]
                out = node.meta["val"]
                layers.append({
                    "filters": int(weight.shape[0]),
                    "kernel_size": tuple(int(k) for k in weight.shape[2:]),
                    "output_shape": (int(out.shape[2]), int(out.shape[3]), int(out.shape[1])),
                    "name": node.name,
                })
        return layers


# Both formats are zip archives that the loaders unpack into memory or a temporary folder.
MAX_UNPACKED_BYTES = 1 << 30


def _check_archive(path: Path, forbidden: tuple[str, ...] = ()) -> None:
    """Refuse a zip bomb, and entries no exported model needs. A torch.export archive may carry an
    AOTInductor package (data/aotinductor/...), whose shared library torch.export.load would dlopen:
    native code of the student's in the grader."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (OSError, zipfile.BadZipFile, ValueError) as err:
        raise ModelLoadError(f"the exported model is not a readable archive ({type(err).__name__})") from None
    if sum(e.file_size for e in entries) > MAX_UNPACKED_BYTES:
        raise ModelLoadError("the exported model is too large once unpacked")
    for entry in entries:
        name = "/" + entry.filename.lower()
        if any(part in name if part.startswith("/") else name.endswith(part) for part in forbidden):
            raise ModelLoadError("the exported model contains compiled code, which the grader does not run")


@contextlib.contextmanager
def _tensors_only_unpickling():
    """torch.export.load falls back to full pickle for some archive entries; a forged archive
    could run code through them. Here every such path accepts plain tensors only, or fails."""
    import pickle

    import torch
    from torch.export.pt2_archive import _package

    def refuse(*args, **kwargs):
        raise pickle.UnpicklingError("pickled objects are not accepted in a graded model")

    real_load = torch.load

    def tensors_only(*args, **kwargs):
        kwargs["weights_only"] = True
        return real_load(*args, **kwargs)

    def no_native_code(*args, **kwargs):
        raise RuntimeError("AOTInductor packages (compiled code) are not accepted in a graded model")

    restricted_pickle = type("RestrictedPickle", (), {"loads": staticmethod(refuse), "load": staticmethod(refuse)})
    saved = (torch.load, torch._C._pickle_load_obj, _package.pickle, _package._load_aoti)
    torch.load, torch._C._pickle_load_obj, _package.pickle, _package._load_aoti = (
        tensors_only, refuse, restricted_pickle, no_native_code)
    try:
        yield
    finally:
        torch.load, torch._C._pickle_load_obj, _package.pickle, _package._load_aoti = saved
