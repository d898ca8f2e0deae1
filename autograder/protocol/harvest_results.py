"""Trusted-side reading of the harvest results directory.

Everything in there was written by student-controlled code: parse with size
caps, accept only the exact file names the protocol allows, never follow
symlinks, load arrays with allow_pickle=False. Model files are returned as
paths; loading them (keras safe_mode, torch.export.load) is the caller's job.
"""
from __future__ import annotations

import json
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .harvest_request import check_name

RESULTS_JSON = "results.json"
MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
MAX_ERROR_CHARS = 2000
_FILE_RE = re.compile(r"^(call|model|value)-[A-Za-z0-9_][A-Za-z0-9_-]{0,63}\.(npy|npz|keras|pt2)$")


class HarvestError(Exception):
    """A harvest item failed in the kernel or its result is missing/invalid.
    The message is student-facing (it describes the student's code)."""


def _open_regular(dir_fd: int, name: str, max_bytes: int) -> int:
    """Open name inside dir_fd: no symlinks, regular file only, size-capped."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise HarvestError(f"{name} is not a regular file")
    if st.st_size > max_bytes:
        os.close(fd)
        raise HarvestError(f"{name} is too large ({st.st_size} bytes)")
    return fd


def _open_dir(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)


def collect_results(src: Path | int, dest: Path) -> Path:
    """Copy an untrusted results dir (in the sandbox scratch) into a fresh trusted dir.

    src: the directory, or better a descriptor opened on it when it was created (its path runs
    through the student's scratch dir, which may have been swapped for a link since).
    Only top-level regular files with protocol names are copied. Call only once
    no sandboxed process can run any more (after the kernel was killed).
    """
    dest.mkdir(mode=0o700)
    total = 0
    sfd = os.dup(src) if isinstance(src, int) else _open_dir(src)
    try:
        for name in sorted(os.listdir(sfd)):
            if name != RESULTS_JSON and not _FILE_RE.match(name):
                continue
            cap = MAX_JSON_BYTES if name == RESULTS_JSON else MAX_FILE_BYTES
            try:
                fd = _open_regular(sfd, name, cap)
            except (OSError, HarvestError):
                continue
            with os.fdopen(fd, "rb") as fin, open(dest / name, "xb") as fout:
                n = 0
                while chunk := fin.read(1 << 20):
                    n += len(chunk)
                    total += len(chunk)
                    if n > cap or total > MAX_TOTAL_BYTES:
                        break
                    fout.write(chunk)
            if n > cap or total > MAX_TOTAL_BYTES:
                (dest / name).unlink()
                if total > MAX_TOTAL_BYTES:
                    break
    finally:
        os.close(sfd)
    return dest


def _check_unpacked_size(f, fname: str) -> None:
    """An .npz is a zip: a few MB of deflated zeros can unpack to many GB in this process
    (np.load reads every member whole). The members' declared sizes bound what zipfile yields."""
    try:
        with zipfile.ZipFile(f) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    finally:
        f.seek(0)
    if unpacked > MAX_FILE_BYTES:
        raise HarvestError(f"result file {fname} is too large once unpacked")


@dataclass
class ModelFile:
    framework: str  # "keras" | "torch"
    path: Path


def _short(s: Any) -> str:
    s = s if isinstance(s, str) else repr(s)
    return s[:MAX_ERROR_CHARS]


class HarvestResults:
    """Parsed results.json of one harvest. Methods raise HarvestError for failed items."""

    def __init__(self, results_dir: Path | None, doc: dict | None, error: str | None = None) -> None:
        self.dir = results_dir
        self._doc = doc or {"calls": {}, "models": {}, "values": {}}
        self.error = error  # whole-harvest failure (kernel dead, no results.json, ...)

    def _entry(self, section: str, name: str) -> dict:
        check_name(name)
        if self.error is not None:
            raise HarvestError(self.error)
        e = self._doc.get(section, {}).get(name)
        if not isinstance(e, dict):
            if self._doc.get("complete") is False:  # written item by item; the kernel stopped first
                raise HarvestError("collecting results stopped before this item: the kernel died or ran out of time")
            raise HarvestError(f"no result for {name!r}")
        if e.get("ok") is not True:
            raise HarvestError(_short(e.get("error", "failed")))
        return e

    def _file(self, e: dict, allowed: tuple[str, ...]) -> str:
        fname = e.get("file")
        if not isinstance(fname, str) or fname not in allowed:
            raise HarvestError("invalid result file name")
        return fname

    def _load_array(self, fname: str) -> np.ndarray | dict[str, np.ndarray]:
        dfd = _open_dir(self.dir)
        try:
            fd = _open_regular(dfd, fname, MAX_FILE_BYTES)
        except FileNotFoundError:
            raise HarvestError(f"result file {fname} is missing") from None
        except OSError:  # ELOOP: a symlink
            raise HarvestError(f"result file {fname} is not a regular file") from None
        finally:
            os.close(dfd)
        with os.fdopen(fd, "rb") as f:
            try:
                if fname.endswith(".npz"):
                    _check_unpacked_size(f, fname)
                    with np.load(f, allow_pickle=False) as z:
                        return {k: z[k] for k in z.files}
                return np.load(f, allow_pickle=False)
            except HarvestError:
                raise
            except Exception as e:  # malformed data written by the kernel
                raise HarvestError(f"result file {fname} is unreadable: {type(e).__name__}") from None

    def ok(self, section: str, name: str) -> bool:
        try:
            self._entry(section, name)
            return True
        except HarvestError:
            return False

    def call(self, name: str) -> np.ndarray | dict[str, np.ndarray] | str | list[str]:
        e = self._entry("calls", name)
        if "json" in e:  # a string or a list of strings: anything else is refused
            value = e["json"]
            if isinstance(value, str) or (isinstance(value, list) and all(isinstance(x, str) for x in value)):
                return value
            raise HarvestError("result is neither an array of numbers nor text")
        out = self._load_array(self._file(e, (f"call-{name}.npy", f"call-{name}.npz")))
        arrays = out.values() if isinstance(out, dict) else [out]
        if any(a.dtype.kind not in "biufc" for a in arrays):
            raise HarvestError("result is not an array of numbers")
        return out

    def model(self, name: str) -> ModelFile:
        e = self._entry("models", name)
        fw = e.get("framework")
        ext = {"keras": ".keras", "torch": ".pt2"}.get(fw)
        if ext is None:
            raise HarvestError("unknown model framework")
        fname = self._file(e, (f"model-{name}{ext}",))
        dfd = _open_dir(self.dir)
        try:
            os.close(_open_regular(dfd, fname, MAX_FILE_BYTES))
        except FileNotFoundError:
            raise HarvestError(f"model file {fname} is missing") from None
        except OSError:
            raise HarvestError(f"model file {fname} is not a regular file") from None
        finally:
            os.close(dfd)
        return ModelFile(fw, self.dir / fname)

    def value(self, name: str) -> Any:
        e = self._entry("values", name)
        if "json" in e:
            return e["json"]
        out = self._load_array(self._file(e, (f"value-{name}.npy",)))
        if isinstance(out, dict) or out.dtype.kind not in "biufc":
            raise HarvestError("value is not an array of numbers")
        return out

    def error_of(self, section: str, name: str) -> str | None:
        try:
            self._entry(section, name)
            return None
        except HarvestError as e:
            return str(e)


def read_results(results_dir: Path | None, error: str | None = None) -> HarvestResults:
    """Parse results_dir/results.json (trusted copy made by collect_results)."""
    if results_dir is None:
        return HarvestResults(None, None, error or "the notebook's kernel was not running at harvest time")
    try:
        dfd = _open_dir(Path(results_dir))
        try:
            fd = _open_regular(dfd, RESULTS_JSON, MAX_JSON_BYTES)
        finally:
            os.close(dfd)
        with os.fdopen(fd, "rb") as f:
            doc = json.loads(f.read(MAX_JSON_BYTES + 1))
    except FileNotFoundError:
        return HarvestResults(results_dir, None, error or "the harvest produced no results")
    except (OSError, ValueError, HarvestError, RecursionError) as e:  # RecursionError: deeply nested JSON
        return HarvestResults(results_dir, None, f"harvest results are unreadable: {type(e).__name__}")
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k, {}), dict) for k in ("calls", "models", "values")):
        return HarvestResults(results_dir, None, "harvest results are malformed")
    return HarvestResults(results_dir, doc, None)
