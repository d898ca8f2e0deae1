"""Turn a kernel's iopub messages into notebook outputs, size-capped.

Contract: everything in a message is untrusted. `OutputCapper` holds the per-notebook byte
budget (`max_output_bytes`); `capper.cell(outputs, cap)` gives the sink for one execute request,
which appends nbformat outputs to `outputs` until either that request's `cap` or the notebook's
budget is spent. Past a cap a stream is cut to the room left, anything else is dropped, and one
stderr note marked `metadata.autograder_truncated` says so; `on_limit` is called each time such a
note is added. Tracebacks keep their last `max_traceback_bytes`; ename/evalue are clipped.
The sink also records what the executor needs from iopub: the kernel went idle, the error raised.
"""
from __future__ import annotations

from typing import Any, Callable

import nbformat

TRUNCATION_NOTE = "\n[autograder: output limit reached; further output was dropped]\n"
MAX_ENAME = 200
MAX_EVALUE = 1000
MAX_MIME_KEY = 200


def clip(s: Any, n: int) -> str:
    """s as text, at most n characters plus a marker."""
    s = s if isinstance(s, str) else str(s)
    return s if len(s) <= n else s[:n] + "…[truncated]"


class OutputCapper:
    """The output budget of one notebook, shared by its cells and the harvest."""

    def __init__(self, max_output_bytes: int, max_traceback_bytes: int,
                 on_limit: Callable[[], None] = lambda: None):
        self.max_output_bytes = max_output_bytes
        self.max_traceback_bytes = max_traceback_bytes
        self.on_limit = on_limit
        self.total = 0  # bytes kept so far, all cells together

    def cell(self, outputs: list, cap: int) -> CellOutputs:
        return CellOutputs(self, outputs, cap)


class CellOutputs:
    """Outputs of one execute request, and what iopub said about it."""

    def __init__(self, capper: OutputCapper, outputs: list, cap: int):
        self.capper = capper
        self.outputs = outputs
        self.cap = cap
        self.used = 0
        self.idle = False                        # the kernel reported idle for this request
        self.error: tuple[str, str] | None = None  # (ename, evalue) of an error message

    def handle(self, msg: dict) -> None:
        mtype = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
        c = msg.get("content") or {}
        if mtype == "status":
            if c.get("execution_state") == "idle":
                self.idle = True
        elif mtype == "stream":
            name = c.get("name") if c.get("name") in ("stdout", "stderr") else "stdout"
            text = c.get("text")
            if isinstance(text, str):
                self._add({"output_type": "stream", "name": name, "text": text}, len(text))
        elif mtype in ("display_data", "execute_result", "update_display_data"):
            data = c.get("data")
            if not isinstance(data, dict):
                return
            data = {str(k)[:MAX_MIME_KEY]: v for k, v in data.items() if isinstance(v, (str, dict, list))}
            size = sum(len(str(k)) + len(v if isinstance(v, str) else str(v)) for k, v in data.items())
            if mtype == "execute_result":
                count = c.get("execution_count")
                out = {"output_type": "execute_result", "data": data,
                       "execution_count": count if isinstance(count, int) else None}
            else:
                # update_display_data is stored as a plain display (no display ids are tracked)
                out = {"output_type": "display_data", "data": data}
            self._add(out, size)
        elif mtype == "error":
            tb = c.get("traceback")
            tb = [t for t in tb if isinstance(t, str)] if isinstance(tb, list) else []
            text = "\n".join(tb)
            cap = self.capper.max_traceback_bytes
            if len(text) > cap:
                # the end of a traceback names the failing line; keep that
                text = "…[traceback truncated]\n" + text[-cap:]
            out = {"output_type": "error", "ename": clip(c.get("ename", "Error"), MAX_ENAME),
                   "evalue": clip(c.get("evalue", ""), MAX_EVALUE), "traceback": text.split("\n")}
            self.error = (out["ename"], out["evalue"])
            self._add(out, len(text) + len(out["evalue"]))
        elif mtype == "clear_output":
            self.outputs.clear()

    def note_dropped(self) -> None:
        """zmq discarded an oversized message: say that output was lost."""
        self.capper.on_limit()
        if not self._truncated():
            self._append_note()

    def _truncated(self) -> bool:
        return any(o.get("metadata", {}).get("autograder_truncated") for o in self.outputs)

    def _append_note(self) -> None:
        self.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=TRUNCATION_NOTE))
        # marked so that later stream text is not merged into it, and the note is added once
        self.outputs[-1]["metadata"] = {"autograder_truncated": True}

    def _add(self, out: dict, size: int) -> None:
        capper = self.capper
        room = min(self.cap - self.used, capper.max_output_bytes - capper.total)
        if size <= room:
            self.used += size
            capper.total += size
            self._append(out)
            return
        if out.get("output_type") == "stream" and room > 0:
            out = dict(out, text=out["text"][:room])
            size = room
        else:
            size = -1
        if not self._truncated():
            capper.on_limit()
            if size > 0:
                capper.total += size
                self._append(out)
            self._append_note()
        self.used = self.cap  # nothing more for this request once it overflowed

    def _append(self, out: dict) -> None:
        last = self.outputs[-1] if self.outputs else None
        if (out["output_type"] == "stream" and last is not None and last.get("output_type") == "stream"
                and last.get("name") == out["name"] and "metadata" not in last):
            last["text"] += out["text"]
        else:
            self.outputs.append(nbformat.v4.new_output(**out))
