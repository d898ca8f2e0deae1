"""Where everything lives, in one place.

A `Course` is the repository (authored notebooks, released notebooks, hidden checks) plus a
workspace (submissions, autograded copies, feedback, gradebook). The workspace is git-ignored and
may be moved, e.g. to a temporary folder in tests or to a private disk on a shared grading machine.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Course:
    root: Path = REPO_ROOT
    workspace: Path = field(default=None)  # type: ignore[assignment]
    # A shard reads the course's submissions and writes grades into a workspace of its own.
    submissions_from: Path | None = None

    def __post_init__(self):
        self.root = Path(self.root).resolve()
        self.workspace = Path(self.workspace or self.root / "workspace").resolve()

    # Authored and released material (in the repository).
    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def assignments(self) -> Path:
        return self.root / "assignments"

    @property
    def checks(self) -> Path:
        return self.root / "autograder" / "checks"

    # Grade-bearing material (in the workspace, never in the tree students see).
    @property
    def submitted(self) -> Path:
        return Path(self.submissions_from) if self.submissions_from else self.workspace / "submitted"

    @property
    def autograded(self) -> Path:
        return self.workspace / "autograded"

    @property
    def feedback(self) -> Path:
        return self.workspace / "feedback"

    @property
    def exchange(self) -> Path:
        return self.workspace / "exchange"

    @property
    def gradebook_path(self) -> Path:
        return self.workspace / "gradebook.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.gradebook_path}"

    def homeworks(self) -> list[str]:
        """The homeworks of the course: those of solutions/ that the book lists, in its order. A
        folder the book does not list yet is a draft: every command takes it when named."""
        toc = self.root / "_toc.yml"
        listed = re.findall(r"file:\s*assignments/([\w.-]+)/", toc.read_text()) if toc.exists() else []
        return [hw for hw in dict.fromkeys(listed) if self.has_homework(hw)]

    def has_homework(self, homework: str) -> bool:
        return bool(re.fullmatch(r"[\w.-]+", homework)) and (self.solutions / homework).is_dir()

    def questions(self, homework: str) -> list[str]:
        """Question ids of a homework, in the book's order (then any the book does not list)."""
        names = sorted(p.stem for p in (self.solutions / homework).glob("*.ipynb"))
        toc = self.root / "_toc.yml"
        pattern = rf"file:\s*assignments/{re.escape(homework)}/([\w.-]+?)(?:\.ipynb)?\s*$"
        listed = re.findall(pattern, toc.read_text(), flags=re.MULTILINE) if toc.exists() else []
        order = [n for n in listed if n in names]
        return order + [n for n in names if n not in order]

    def nbgrader_config(self) -> Config:
        """The repository's nbgrader_config.py, with this course's workspace paths."""
        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        rel = lambda p: str(p.relative_to(self.root)) if p.is_relative_to(self.root) else str(p)  # noqa: E731
        config.CourseDirectory.root = str(self.root)
        config.CourseDirectory.submitted_directory = rel(self.submitted)
        config.CourseDirectory.autograded_directory = rel(self.autograded)
        config.CourseDirectory.feedback_directory = rel(self.feedback)
        config.CourseDirectory.db_url = self.db_url
        config.Exchange.root = str(self.exchange)
        return config

    def ensure_workspace(self) -> None:
        # 0700: on a shared machine, other accounts must not read submissions or grades.
        for path in (self.workspace, self.submitted, self.autograded, self.feedback):
            path.mkdir(parents=True, exist_ok=True)
        self.workspace.chmod(0o700)
