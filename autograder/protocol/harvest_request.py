"""HarvestRequest: what the trusted grader asks the student's kernel for.

Written once per grading run as request.json + request.npz (no pickles): the executor hands a copy
to the kernel (read there by kernel_side/harvest.py), and the check process reads the same files,
so both sides see exactly the inputs that were drawn.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
REQUEST_JSON = "request.json"
REQUEST_NPZ = "request.npz"


def check_name(name: str) -> str:
    """Result names become file names: keep them to a safe alphabet."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"invalid harvest item name {name!r} (use letters, digits, _ and -)")
    return name


def _check_ident(var: str) -> str:
    if not isinstance(var, str) or not IDENT_RE.match(var):
        raise ValueError(f"invalid Python identifier {var!r}")
    return var


def _check_json(value: Any) -> Any:
    # A JSON round trip rejects non-JSON types (and NaN) at request time, not in the kernel.
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise TypeError(f"argument {value!r} is neither an ndarray nor JSON data: {e}") from None


class Case:
    """The arguments of one call of a student function: Case(image, kernel, stride=2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


class HarvestRequest:
    def __init__(self) -> None:
        self._calls: dict[str, tuple[str, tuple, dict]] = {}
        self._about: dict[str, str] = {}
        self._models: dict[str, dict] = {}
        self._values: dict[str, str] = {}

    # -- building -----------------------------------------------------------
    def _new(self, name: str) -> str:
        check_name(name)
        if name in self._calls or name in self._models or name in self._values:
            raise ValueError(f"duplicate harvest item name {name!r}")
        return name

    def call(self, name: str, function: str, /, *args: Any, **kwargs: Any) -> "HarvestRequest":
        """Call global `function` in the student's namespace with args (ndarrays or JSON data)."""
        self._new(name)
        _check_ident(function)
        norm = lambda v: np.array(v) if isinstance(v, np.ndarray) else _check_json(v)  # noqa: E731
        for v in list(args) + list(kwargs.values()):
            if isinstance(v, np.ndarray) and v.dtype.hasobject:
                raise TypeError("object arrays cannot be sent to the kernel")
        for k in kwargs:
            _check_ident(k)
        self._calls[name] = (function, tuple(norm(a) for a in args), {k: norm(v) for k, v in kwargs.items()})
        return self

    def cases(self, function: str, cases: dict[str, Case],
              describe: "Callable[[Case], str] | None" = None) -> "HarvestRequest":
        """One call of `function` per case; call names are `<function>-<label>`, so checks ask for
        a function's cases (SubmissionResults.calls) and never build names by hand."""
        for label, case in cases.items():
            name = f"{function}-{label}"
            self.call(name, function, *case.args, **case.kwargs)
            if describe is not None:
                self._about[name] = str(describe(case))[:200]
        return self

    def model(self, name: str, variable: str = "model", torch_example_shape: tuple[int, ...] | None = None) -> "HarvestRequest":
        """Export global `variable` (keras.Model -> .keras, torch nn.Module -> torch.export .pt2)."""
        self._new(name)
        _check_ident(variable)
        shape = None if torch_example_shape is None else [int(s) for s in torch_example_shape]
        self._models[name] = {"variable": variable, "torch_example_shape": shape}
        return self

    def value(self, name: str, variable: str) -> "HarvestRequest":
        """Fetch global `variable` (str/number/bool/None/list as JSON, array-like as .npy)."""
        self._new(name)
        self._values[name] = _check_ident(variable)
        return self

    # -- inspection (used by checks) -------------------------------------------
    @property
    def call_names(self) -> list[str]:
        return list(self._calls)

    @property
    def model_names(self) -> list[str]:
        return list(self._models)

    @property
    def value_names(self) -> list[str]:
        return list(self._values)

    def call_args(self, name: str) -> tuple[tuple, dict]:
        """(args, kwargs) that were sent for call `name` (copies)."""
        _, args, kwargs = self._calls[name]
        cp = lambda v: v.copy() if isinstance(v, np.ndarray) else json.loads(json.dumps(v))  # noqa: E731
        return tuple(cp(a) for a in args), {k: cp(v) for k, v in kwargs.items()}

    def call_function(self, name: str) -> str:
        return self._calls[name][0]

    def calls_of(self, function: str) -> list[str]:
        """Names of the calls of `function`, in request order."""
        return [name for name, (fn, _, _) in self._calls.items() if fn == function]

    def label(self, name: str) -> str:
        """A call's case label (its name without the function prefix)."""
        prefix = self._calls[name][0] + "-"
        return name[len(prefix):] if name.startswith(prefix) else name

    def about(self, name: str) -> str:
        return self._about.get(name, "")

    def model_spec(self, name: str) -> dict:
        return dict(self._models[name])

    def value_variable(self, name: str) -> str:
        return self._values[name]

    def __bool__(self) -> bool:
        return bool(self._calls or self._models or self._values)

    # -- wire format -------------------------------------------------------------
    def write(self, dirpath: Path) -> None:
        """Write request.json + request.npz into dirpath (which must exist)."""
        dirpath = Path(dirpath)
        arrays: dict[str, np.ndarray] = {}

        def enc(v: Any) -> dict:
            if isinstance(v, np.ndarray):
                key = f"a{len(arrays)}"
                arrays[key] = v
                return {"array": key}
            return {"json": v}

        doc = {
            "version": 1,
            "calls": [
                {"name": n, "function": f, "args": [enc(a) for a in args],
                 "kwargs": {k: enc(v) for k, v in kw.items()}, "about": self._about.get(n, "")}
                for n, (f, args, kw) in self._calls.items()
            ],
            "models": [{"name": n, **spec} for n, spec in self._models.items()],
            "values": [{"name": n, "variable": v} for n, v in self._values.items()],
        }
        (dirpath / REQUEST_JSON).write_text(json.dumps(doc))
        np.savez(dirpath / REQUEST_NPZ, **arrays)

    @classmethod
    def read(cls, dirpath: Path) -> "HarvestRequest":
        """The request as written by `write` (trusted files: the grader wrote them)."""
        dirpath = Path(dirpath)
        doc = json.loads((dirpath / REQUEST_JSON).read_text())
        with np.load(dirpath / REQUEST_NPZ, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        dec = lambda v: arrays[v["array"]] if "array" in v else v["json"]  # noqa: E731
        req = cls()
        for c in doc["calls"]:
            req._calls[c["name"]] = (c["function"], tuple(dec(a) for a in c["args"]),
                                     {k: dec(v) for k, v in c["kwargs"].items()})
            if c.get("about"):
                req._about[c["name"]] = c["about"]
        req._models = {m["name"]: {k: v for k, v in m.items() if k != "name"} for m in doc["models"]}
        req._values = {v["name"]: v["variable"] for v in doc["values"]}
        return req
