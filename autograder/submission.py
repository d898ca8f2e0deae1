"""Turn a submitted file into the notebook the grader will run.

Contract: `load_submission(path, template) -> Prepared`. Never raises on bad student input: an
unreadable file comes back with `problem` set (and is graded as invalid); a readable one is rebuilt
on the released template, so the student controls only the *sources* of their answer cells and of
cells they added. Everything else (prompts, public checks, placeholders for hidden checks, cell
order of graded cells, kernelspec) comes from the template, which makes deleting, duplicating,
retyping or reordering graded cells harmless.
"""
from __future__ import annotations

import copy
import json
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.validator import DuplicateCellId

MAX_CELL_SOURCE = 200_000  # characters; a bigger "answer" is almost surely an attack or an accident


@dataclass
class Prepared:
    notebook: NotebookNode | None
    problem: str | None = None          # why the file could not be graded at all
    notes: list[str] = field(default_factory=list)  # what was repaired, shown in feedback


def grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    value = meta.get("grade_id") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


def is_answer_cell(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def read_notebook(path: Path) -> tuple[NotebookNode | None, str | None]:
    raw = path.read_bytes()
    if not raw.strip():
        return None, "the file is empty"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, f"the file is not UTF-8 text (byte {err.start})"
    try:
        data = json.loads(text)
        # A lone surrogate escape (\ud800) parses, but can be neither sent to the kernel nor saved.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except json.JSONDecodeError as err:
        return None, f"the file is not valid JSON (line {err.lineno}, column {err.colno}): was it saved from Jupyter?"
    except RecursionError:
        return None, "the file is not valid JSON for a notebook (nested too deeply)"
    except UnicodeEncodeError:
        return None, "the file contains invalid Unicode (an unpaired surrogate escape such as \\ud800)"
    # nbformat 4 has "cells"; nbformat 3 (still written by old tools) has "worksheets".
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
        return None, "the file is JSON but not a Jupyter notebook (no list of cells)"
    try:
        with warnings.catch_warnings():
            # nbformat renumbers duplicate cell ids with a warning; merge() reports duplicates itself.
            warnings.simplefilter("ignore", DuplicateCellId)
            nb = nbformat.reads(text, as_version=4)
    except Exception as err:  # nbformat raises several unrelated types for malformed notebooks
        return None, f"the file is not a readable Jupyter notebook ({type(err).__name__})"
    return nb, None


def _source(cell) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def merge(template: NotebookNode, submitted: NotebookNode) -> tuple[NotebookNode, list[str]]:
    """Template cells in template order; student sources for answer cells; extra cells kept in place."""
    notes: list[str] = []
    known = {grade_id(c): c for c in template.cells if grade_id(c)}
    answers: dict[str, str] = {}
    extras_after: dict[str | None, list] = {}
    seen: set[str] = set()
    anchor = None
    for cell in submitted.cells:
        gid = grade_id(cell)
        if gid in known:
            if gid in seen:
                notes.append(f"cell '{gid}' appears more than once; only the first copy was graded")
                continue
            seen.add(gid)
            if is_answer_cell(known[gid]):
                answers[gid] = _source(cell)
            anchor = gid
            continue
        if cell.get("cell_type") not in ("code", "markdown"):
            continue
        extra = nbformat.v4.new_code_cell(_source(cell)) if cell.get("cell_type") == "code" \
            else nbformat.v4.new_markdown_cell(_source(cell))
        extra["id"] = uuid.uuid4().hex[:12]
        extras_after.setdefault(anchor, []).append(extra)

    merged = copy.deepcopy(template)
    cells = list(extras_after.get(None, []))
    for cell in merged.cells:
        gid = grade_id(cell)
        if gid and is_answer_cell(cell):
            if gid in answers:
                source = answers[gid]
                if len(source) > MAX_CELL_SOURCE:
                    notes.append(f"answer cell '{gid}' is longer than {MAX_CELL_SOURCE} characters and was truncated")
                    source = source[:MAX_CELL_SOURCE]
                cell["source"] = source
            else:
                notes.append(f"answer cell '{gid}' was missing from the submission; it was graded as unanswered")
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
        if gid:
            cells.extend(extras_after.get(gid, []))
    merged.cells = cells
    if not answers and any(is_answer_cell(c) for c in template.cells):
        notes.insert(0, f"{WRONG_NOTEBOOK}: is this the right notebook?")
    # Always run the course kernel, whatever the submission asks for.
    merged.metadata["kernelspec"] = copy.deepcopy(template.metadata.get(
        "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}))
    return merged, notes


WRONG_NOTEBOOK = "none of this question's answer cells were found"


def load_submission(path: Path | None, template: NotebookNode) -> Prepared:
    if path is None or not path.exists():
        return Prepared(None, "this question was not submitted")
    nb, problem = read_notebook(path)
    if nb is None:
        return Prepared(None, problem)
    merged, notes = merge(template, nb)
    if notes and notes[0].startswith(WRONG_NOTEBOOK):
        # Running it would grade the released stubs: say what happened instead.
        return Prepared(None, f"{WRONG_NOTEBOOK}: is this the right notebook? Submit this question's "
                              f"notebook under its own name", notes[1:])
    return Prepared(merged, None, notes)
