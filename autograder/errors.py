"""What the instructor is told when something goes wrong: one line; the details go to a log file."""
from __future__ import annotations

import difflib
import sys
import tempfile
import traceback
from datetime import datetime, timezone
from pathlib import Path


class UsageError(Exception):
    """The command asked for something that does not exist or cannot be done (exit status 2)."""


def did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def log_failure(workspace: Path, err: BaseException) -> Path:
    """Append the traceback of an unexpected failure to the workspace's log; where it went."""
    entry = (f"--- {datetime.now(timezone.utc).isoformat(timespec='seconds')}: "
             f"{' '.join(sys.argv)}\n{''.join(traceback.format_exception(err))}\n")
    for folder in (workspace, Path(tempfile.gettempdir())):  # the workspace may be the problem
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "autograder-errors.log"
            with path.open("a") as handle:
                handle.write(entry)
            return path
        except OSError:
            continue
    raise err
