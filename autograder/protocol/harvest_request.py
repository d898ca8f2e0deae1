"""HarvestRequest: what the trusted grader asks the student's kernel for.

Written as request.json + request.npz (no pickles) into a fresh directory in
the sandbox scratch; read there by harvest.py running inside the kernel.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

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
    # Round trip: rejects NaN-free? no; rejects non-JSON types early, at request time.
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise TypeError(f"argument {value!r} is neither an ndarray nor JSON data: {e}") from None


class HarvestRequest:
    def __init__(self) -> None:
        self._calls: dict[str, tuple[str, tuple, dict]] = {}
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
                 "kwargs": {k: enc(v) for k, v in kw.items()}}
                for n, (f, args, kw) in self._calls.items()
            ],
            "models": [{"name": n, **spec} for n, spec in self._models.items()],
            "values": [{"name": n, "variable": v} for n, v in self._values.items()],
        }
        (dirpath / REQUEST_JSON).write_text(json.dumps(doc))
        np.savez(dirpath / REQUEST_NPZ, **arrays)
