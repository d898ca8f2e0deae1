"""Harvest code run INSIDE the student's kernel (sent as source text).

Self-contained: the autograder package is not visible in the sandbox. Reads
request.json/request.npz, calls student functions / exports models / fetches
values from the student's globals, and writes DATA ONLY into results_dir.
Every item is isolated: an error is recorded for that item and the harvest
goes on. Nothing written here is trusted by the grader.
"""
import json as _json
import os as _os
import sys as _sys

_MAX_ERROR = 2000


def _err(exc):
    msg = f"{type(exc).__name__}: {exc}"
    return msg[:_MAX_ERROR]


def _numeric_array(obj):
    import numpy as np

    if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # torch tensor
        obj = obj.detach().cpu().numpy()
    elif hasattr(obj, "numpy") and not isinstance(obj, np.ndarray):  # tf tensor
        try:
            obj = obj.numpy()
        except Exception:
            pass
    arr = np.asarray(obj)
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"returned {type(obj).__name__}, expected an array of numbers")
    return np.require(arr, requirements="C")  # ascontiguousarray would turn a 0-d result into shape (1,)


def _save_call_result(name, out, results_dir):
    import numpy as np

    if isinstance(out, dict):
        arrays = {}
        for k, v in out.items():
            if not isinstance(k, str):
                raise TypeError(f"returned a dict with a non-string key {k!r:.40}")
            arrays[k] = _numeric_array(v)
        fname = f"call-{name}.npz"
        np.savez(_os.path.join(results_dir, fname), **arrays)
        return fname
    fname = f"call-{name}.npy"
    np.save(_os.path.join(results_dir, fname), _numeric_array(out), allow_pickle=False)
    return fname


def _keras_sublayers(model):
    """The model and every layer under it, nested models included, each once."""
    seen, stack, found = set(), [model], []
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        found.append(layer)
        children = getattr(layer, "_layers", None)  # every tracked sublayer (Keras 3)
        if children is None:
            children = getattr(layer, "layers", None) or []
        stack.extend(children)
    return found


class _linear_for_none_activations:
    """Serialise `activation = None` (e.g. the keras.io Grad-CAM recipe's
    `model.layers[-1].activation = None`) as the identity it means.

    Keras layers apply no activation when it is None, exactly as with keras.activations.linear, but
    Keras cannot serialise None (TypeError in activations.serialize), so such a model cannot be
    saved at all. Those layers, and only those, are looked for before the save (a known cause, found
    without a failed save and its partial file; any other failure is reported as it is) and hold
    `linear` during the save only: the student's objects get None back afterwards.
    """

    def __init__(self, model, keras):
        self.model, self.linear, self.patched = model, keras.activations.linear, []

    def __enter__(self):
        for layer in _keras_sublayers(self.model):
            # Only a plain attribute set to None (an RNN's `activation` is a read-only view of its
            # cell's, and the cell is patched itself).
            if "activation" in vars(layer) and layer.activation is None:
                layer.activation = self.linear
                self.patched.append(layer)
        return self

    def __exit__(self, *exc):
        for layer in self.patched:
            layer.activation = None
        return False


def _export_model(name, obj, spec, results_dir):
    keras = _sys.modules.get("keras")
    torch = _sys.modules.get("torch")
    if keras is not None and isinstance(obj, keras.Model):
        fname = f"model-{name}.keras"
        with _linear_for_none_activations(obj, keras):
            obj.save(_os.path.join(results_dir, fname))
        return "keras", fname
    if torch is not None and isinstance(obj, torch.nn.Module):
        shape = spec.get("torch_example_shape")
        if not shape:
            raise ValueError("no example input shape was given for a PyTorch model")
        obj = obj.eval()
        example = torch.zeros((2, *tuple(shape)[1:]))
        with torch.no_grad():
            try:  # a dynamic batch dimension, so the grader can feed any number of images
                ep = torch.export.export(obj, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
            except Exception:  # the model fixes its batch size (e.g. view(1, -1)): export it as it is
                ep = torch.export.export(obj, (torch.zeros(tuple(shape)),))
        fname = f"model-{name}.pt2"
        torch.export.save(ep, _os.path.join(results_dir, fname))
        return "torch", fname
    raise TypeError(f"expected a keras.Model or torch.nn.Module, got {type(obj).__name__}")


def _discard(results_dir, prefix):
    # A failed save (e.g. a result over the file size limit) leaves a partial file on the disk.
    for fname in _os.listdir(results_dir):
        if fname.startswith(prefix):
            try:
                _os.remove(_os.path.join(results_dir, fname))
            except OSError:
                pass


def run(request_dir, results_dir, user_ns):
    import numpy as np

    with open(_os.path.join(request_dir, "request.json")) as f:
        req = _json.load(f)
    with np.load(_os.path.join(request_dir, "request.npz"), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    out = {"calls": {}, "models": {}, "values": {}}

    def dec(spec):
        if "array" in spec:
            return arrays[spec["array"]].copy()  # a fresh copy per call: students may mutate inputs
        return spec["json"]

    def missing(var):
        return NameError(f"name {var!r} is not defined in the notebook")

    def flush(complete=False):
        # After every item: if a later call kills the kernel or hangs, what was collected stays.
        tmp = _os.path.join(results_dir, "results.json.tmp")
        with open(tmp, "w") as f:
            _json.dump(dict(out, complete=complete), f, default=str)
        _os.replace(tmp, _os.path.join(results_dir, "results.json"))

    def variable(item):
        if item["variable"] not in user_ns:
            raise missing(item["variable"])
        return user_ns[item["variable"]]

    def call(item):
        fn = user_ns.get(item["function"])
        if fn is None:
            raise missing(item["function"])
        if not callable(fn):
            raise TypeError(f"{item['function']!r} is not a function")
        args = [dec(a) for a in item["args"]]
        kwargs = {k: dec(v) for k, v in item["kwargs"].items()}
        out = fn(*args, **kwargs)
        if isinstance(out, str) or (isinstance(out, (list, tuple)) and out
                                    and all(isinstance(x, str) for x in out)):
            # A label (or a list of labels) travels as JSON; numbers go through NumPy as before.
            return {"ok": True, "json": out[:10000] if isinstance(out, str) else [x[:10000] for x in out[:10000]]}
        return {"ok": True, "file": _save_call_result(item["name"], out, results_dir)}

    def model(item):
        fw, fname = _export_model(item["name"], variable(item), item, results_dir)
        return {"ok": True, "framework": fw, "file": fname}

    def value(item):
        v = variable(item)
        if v is None or isinstance(v, (bool, int, float, str)):
            return {"ok": True, "json": v if not isinstance(v, str) else v[:100000]}
        if isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float, str)) for x in v):
            return {"ok": True, "json": list(v)}
        fname = f"value-{item['name']}.npy"
        np.save(_os.path.join(results_dir, fname), _numeric_array(v), allow_pickle=False)
        return {"ok": True, "file": fname}

    # Student functions may raise SystemExit too; KeyboardInterrupt is the grader's own interrupt.
    for kind, prefix, collect, failures in (("calls", "call", call, BaseException),
                                            ("models", "model", model, Exception),
                                            ("values", "value", value, Exception)):
        for item in req.get(kind, []):
            name = item["name"]
            try:
                out[kind][name] = collect(item)
            except failures as e:
                if isinstance(e, KeyboardInterrupt):
                    raise
                out[kind][name] = {"ok": False, "error": _err(e)}
                _discard(results_dir, f"{prefix}-{name}.")
            flush()

    flush(complete=True)


def kernel_code(request_dir, results_dir):
    """Code sent to the kernel: this module's source run in a private namespace."""
    with open(__file__) as f:
        src = f.read()
    return (
        "def __autograder_harvest(src, req, res):\n"
        "    import builtins\n"
        "    ns = {'__name__': '__autograder_harvest__'}\n"
        "    builtins.exec(builtins.compile(src, '<autograder-harvest>', 'exec'), ns)\n"
        "    ns['run'](req, res, get_ipython().user_ns)\n"
        f"try:\n    __autograder_harvest({src!r}, {str(request_dir)!r}, {str(results_dir)!r})\n"
        "finally:\n    del __autograder_harvest\n"
    )
