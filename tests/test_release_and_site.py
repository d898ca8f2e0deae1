"""Release and website: student versions are fresh and secret-free; the site builds and renders,
offline and on a phone; the reference solutions are published only on request."""
import html
import json
import re
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import nbformat
import pytest
import yaml

from autograder import cli
from autograder.checker.runner import load_checks
from autograder.course import Course
from autograder.grade import hidden_cell_id
from autograder.release import SECRET_MARKERS, check_release, find_secrets
from autograder.submission import grade_id

COURSE = Course()
QUESTIONS = COURSE.questions("hw1")


def test_hw1_has_the_four_questions_in_book_order():
    assert QUESTIONS == ["conv_by_hand", "opencv_filters", "mnist_cnn", "gradcam"]


def test_released_notebooks_are_up_to_date():
    assert check_release(COURSE, "hw1") == [], "run `make release` and commit assignments/"


def test_released_notebooks_hold_no_solution_markers():
    assert find_secrets(COURSE.assignments) == []


@pytest.mark.parametrize("question", QUESTIONS)
def test_hidden_cell_points_match_the_checks(question):
    """The gradebook's points for a question are exactly what its hidden checks can award."""
    template = nbformat.read(COURSE.assignments / "hw1" / f"{question}.ipynb", as_version=4)
    cell_id = hidden_cell_id(COURSE, "hw1", question)
    cell = next(c for c in template.cells if grade_id(c) == cell_id)
    checks = load_checks(COURSE, "hw1", question)
    assert checks.catalogue, f"{question} has no hidden checks"
    assert cell.metadata.nbgrader.points == checks.max_points


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "autograder", "build", "--all", "--output", str(out)],
                          cwd=COURSE.root, capture_output=True, text=True)
    assert proc.returncode == 0, "site build failed (warnings are errors):\n" + proc.stdout[-5000:] + proc.stderr[-3000:]
    return out / "_build" / "html"


def test_site_has_every_homework_page_and_no_secrets(site):
    for question in QUESTIONS:
        page = site / "assignments" / "hw1" / f"{question}.html"
        assert page.exists(), f"{question} page missing from the site"
        text = page.read_text()
        assert "YOUR CODE HERE" in text or "YOUR ANSWER HERE" in text
    assert not (site / "solutions").exists()
    leaks = [str(p) for p in site.rglob("*") if p.is_file() and p.suffix in {".html", ".ipynb", ".txt", ".js"}
             and any(m in p.read_text(errors="replace") for m in SECRET_MARKERS)]
    assert leaks == []


def test_homework_pages_launch_their_notebook_on_colab_and_binder(site):
    from autograder.release import repository_url

    repo = repository_url(Course()).removeprefix("https://github.com/")
    page = (site / "assignments" / "hw1" / "conv_by_hand.html").read_text()
    assert f"https://colab.research.google.com/github/{repo}/blob/main/assignments/hw1/conv_by_hand.ipynb" in page
    assert f"https://mybinder.org/v2/gh/{repo}/main" in page


def chromium_dom(url: str, tmp_path) -> str:
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chrome'}", "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.skipif(subprocess.run(["which", "chromium"], capture_output=True).returncode != 0,
                    reason="chromium is not installed (make test installs it as root on Debian)")
def test_pages_render_in_a_real_browser(site, tmp_path):
    dom = chromium_dom((site / "assignments" / "hw1" / "conv_by_hand.html").as_uri(), tmp_path)
    assert "cross_correlate2d" in dom
    assert "Homework 1" in dom  # the navigation sidebar rendered the table of contents
    for question in set(QUESTIONS) - {"conv_by_hand"}:  # the current page links to itself as "#"
        assert f"{question}.html" in dom, f"navigation lacks {question}"
    home = chromium_dom((site / "book" / "intro.html").as_uri(), tmp_path)
    assert "Convolutional Networks" in home and "Grad-CAM" in home


# --- Offline, on a phone, and the solutions after the deadline (issue #9) ---------------------------

HAS_CHROMIUM = subprocess.run(["which", "chromium"], capture_output=True).returncode == 0
needs_chromium = pytest.mark.skipif(not HAS_CHROMIUM, reason="chromium is not installed")
# No request can leave the machine: every host is unresolvable and every proxied request refused.
OFFLINE = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]
PHONE_WIDTH = 390  # CSS pixels, an iPhone 12-15 held upright


def site_pages(site: Path) -> list[str]:
    """Every content page of a built site, relative to it."""
    return [p.relative_to(site).as_posix() for p in sorted(site.rglob("*.html"))
            if not ({"_static", "_sources"} & set(p.parts)) and p.name not in {"genindex.html", "search.html", "index.html"}]


def page_text(path: Path) -> str:
    """A built page as a reader sees it: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(errors="replace")))


def given_text(path: Path) -> str:
    """What a student reads in a file, roughly as rendered: a notebook's cell sources (its JSON escapes
    quotes), without the backticks of inline code, which the page does not show either."""
    if path.suffix == ".ipynb":
        text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
    else:
        text = path.read_text(errors="replace")
    return text.replace("`", "")


def solution_lines() -> dict[str, list[str]]:
    """For each master notebook the book lists: text of its reference solution (code between BEGIN and
    END SOLUTION, and the plain words of a written answer) long enough to be its own, and found nowhere
    in what students get."""
    given = "\n".join(given_text(p) for folder in (COURSE.assignments, COURSE.root / "book")
                      for p in folder.rglob("*") if p.suffix in {".ipynb", ".md"})
    lines = {}
    for hw in COURSE.homeworks():
        for question in COURSE.questions(hw):
            notebook = nbformat.read(COURSE.solutions / hw / f"{question}.ipynb", as_version=4)
            found, inside = [], False
            for cell in notebook.cells:
                for line in cell.source.splitlines():
                    if "BEGIN SOLUTION" in line or "END SOLUTION" in line:
                        inside = "BEGIN SOLUTION" in line
                        continue
                    if cell.cell_type == "markdown":  # rendered: keep a run of words markup leaves as it is
                        line = re.sub(r"^\s*(\d+\.|[-*+])\s+", "", line)   # a list item's marker is not text
                        line = max(re.split(r"[$*`_\[\]()\\{}\"'<>|#~=-]", line), key=len)
                    if (inside or cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution")) \
                            and len(line.strip()) >= 25 and line.strip() not in given:
                        found.append(line.strip())
            if found:
                lines[f"solutions/{hw}/{question}"] = found
    return lines


def chromium(url: str, tmp_path, *flags: str, budget_ms: int = 5000) -> str:
    """The DOM of a page after its scripts ran, in headless chromium with no network at all."""
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", *OFFLINE, *flags,
         f"--user-data-dir={tmp_path / 'chrome-offline'}", f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


# Loads each page in turn in an iframe as wide as a phone (same folder, so the frame is readable with
# --allow-file-access-from-files), waits for MathJax, and reports what a reader would see.
PROBE_JS = r"""
const pages = %(pages)s, frame = document.getElementById("frame");
function describe(el) {
  const cls = typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "";
  return el.tagName.toLowerCase() + cls + ": " + (el.textContent || "").trim().slice(0, 80);
}
async function probe(url) {
  await new Promise(done => { frame.onload = done; frame.src = url; });
  const w = frame.contentWindow, d = frame.contentDocument;
  if (w.MathJax && w.MathJax.startup && w.MathJax.startup.promise) await w.MathJax.startup.promise;
  await new Promise(done => w.setTimeout(done, 300));
  const width = d.documentElement.clientWidth, article = d.querySelector(".bd-article") || d.body;
  // Wider than the screen, and not inside a box that scrolls within the screen: cut off or widening.
  const cut = [];
  for (const el of article.querySelectorAll("*")) {
    if (el.closest("mjx-assistive-mml")) continue;  // MathJax's invisible copy for screen readers
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) continue;
    let up = el.parentElement, scrolls = false;
    for (; up && up !== d.body; up = up.parentElement) {
      const overflow = w.getComputedStyle(up).overflowX;
      if (overflow === "auto" || overflow === "scroll") { scrolls = up.getBoundingClientRect().right <= width + 1; break; }
    }
    if (!scrolls) cut.push(describe(el));
  }
  // TeX left as text: outside code, a `$` or a LaTeX command means a formula that did not render.
  const raw = [], walk = d.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (n.parentElement.closest("pre, code, script, style, mjx-container, .highlight")) continue;
    if (/\$|\\[()\[\]]|\\(begin|end|frac|sum|math|left|right)/.test(n.textContent)) raw.push(n.textContent.trim().slice(0, 120));
  }
  return {scrollWidth: d.documentElement.scrollWidth, width, cut: cut.slice(0, 10), raw: raw.slice(0, 10),
          formulas: d.querySelectorAll("span.math, div.math").length,
          rendered: d.querySelectorAll("mjx-container").length,
          errors: Array.from(d.querySelectorAll("mjx-merror"), e => e.getAttribute("data-mjx-error") || e.textContent)};
}
(async () => {
  const report = {};
  for (const page of pages) { try { report[page] = await probe(page); } catch (e) { report[page] = {failed: String(e)}; } }
  document.getElementById("report").textContent = JSON.stringify(report);
})();
"""


def probe_pages(site: Path, pages: list[str], tmp_path, width: int = PHONE_WIDTH) -> dict:
    probe = site / "__probe.html"
    probe.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
                     f'<iframe id="frame" style="width:{width}px;height:844px;border:0"></iframe><pre id="report"></pre>'
                     f'<script>{PROBE_JS % {"pages": json.dumps(pages)}}</script></body></html>')
    try:
        dom = chromium(probe.as_uri(), tmp_path, "--allow-file-access-from-files", budget_ms=30000 * len(pages))
    finally:
        probe.unlink()
    found = re.search(r'<pre id="report"[^>]*>(.*?)</pre>', dom, re.S)
    assert found and found.group(1).strip(), "the probe page reported nothing:\n" + dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


def test_math_is_served_by_the_site_not_a_cdn(site):
    pages = site_pages(site)
    for page in pages:
        text = (site / page).read_text()
        remote = [url for url in re.findall(r'<(?:script|link|img)\b[^>]*?(?:src|href)="([^"]+)"', text)
                  if re.match(r"(?:[a-z]+:)?//", url)]
        assert remote == [], f"{page} loads from the network: {remote}"
        assert not re.search(r"https?://[^\"' ]*mathjax", text, flags=re.I), f"{page} names a remote MathJax"
        scripts = re.findall(r'<script[^>]*src="([^"?]*mathjax[^"?]*)', text)
        assert len(scripts) == 1 if 'class="math' in text else len(scripts) <= 1, f"{page}: MathJax scripts {scripts}"
        for script in scripts:
            assert (site / page).parent.joinpath(script).resolve().is_file(), f"{page}: {script} is not in the site"
    math_pages = [p for p in pages if 'class="math' in (site / p).read_text()]
    assert {"assignments/hw1/opencv_filters.html", "assignments/hw2/conv_backprop.html"} <= set(math_pages)


@needs_chromium
@pytest.mark.parametrize("page", ["assignments/hw1/opencv_filters.html", "assignments/hw2/conv_backprop.html"])
def test_math_renders_without_a_network(site, tmp_path, page):
    source = (site / page).read_text()
    assert "begin{bmatrix}" in source  # the page does hold matrices for MathJax to typeset
    dom = chromium((site / page).as_uri(), tmp_path, budget_ms=10000)
    assert dom.count("<mjx-container") >= source.count('class="math')
    assert "begin{bmatrix}" not in dom and "$$" not in dom


@needs_chromium
def test_every_page_renders_offline_on_a_phone(site, tmp_path):
    """At a phone's width and with no network: every formula of every page is typeset (none left as
    TeX, no stray `$`, no MathJax error), the page does not scroll sideways, and nothing is cut off:
    what is wider than the screen (tables, code, long formulas) scrolls inside its own box."""
    report = probe_pages(site, site_pages(site), tmp_path)
    assert len(report) >= len(QUESTIONS) + 5
    assert phone_problems(report) == {}
    assert sum(r["rendered"] for r in report.values()) > 100


def phone_problems(report: dict) -> dict:
    return {page: r for page, r in report.items()
            if r.get("failed") or r["errors"] or r["raw"] or r["cut"] or r["rendered"] < r["formulas"]
            or r["scrollWidth"] > r["width"] or r["width"] > PHONE_WIDTH}


def test_default_site_publishes_no_solution(site):
    lines = solution_lines()
    assert len(lines) >= len(QUESTIONS)
    built = {p: page_text(p) for p in site.rglob("*") if p.is_file() and p.suffix in {".html", ".ipynb", ".txt", ".js", ".md"}}
    leaks = [(master, str(path)) for master, found in lines.items() for path, text in built.items()
             if any(line in text for line in found)]
    assert leaks == []
    assert not (site / "solutions").exists() and not (site / "_sources" / "solutions").exists()


@pytest.fixture(scope="module")
def site_with_solutions(tmp_path_factory):
    """The one extra build: `build --with-solutions`; the repository's toc and config stay as they are."""
    before = {name: (COURSE.root / name).read_bytes() for name in ("_toc.yml", "_config.yml")}
    out = tmp_path_factory.mktemp("site-with-solutions")
    proc = subprocess.run([sys.executable, "-m", "autograder", "build", "--all", "--with-solutions", "--output", str(out)],
                          cwd=COURSE.root, capture_output=True, text=True)
    assert proc.returncode == 0, "site build failed:\n" + proc.stdout[-5000:] + proc.stderr[-3000:]
    assert {name: (COURSE.root / name).read_bytes() for name in before} == before
    return out / "_build" / "html"


def test_site_with_solutions_publishes_each_master_notebook(site_with_solutions):
    site = site_with_solutions
    for master, lines in solution_lines().items():
        page = site / f"{master}.html"
        assert page.exists(), f"{master} missing from the site built with solutions"
        text = page_text(page)
        assert all(line in text for line in lines), f"{page} lacks its reference solution"
    for question in QUESTIONS:  # the student pages are still there, and still blank
        text = page_text(site / "assignments" / "hw1" / f"{question}.html")
        assert "YOUR CODE HERE" in text or "YOUR ANSWER HERE" in text
    assert "Solutions: Homework 1" in (site / "book" / "intro.html").read_text()  # in the navigation


@needs_chromium
def test_solution_pages_render_offline_on_a_phone(site_with_solutions, tmp_path):
    pages = [p for p in site_pages(site_with_solutions) if p.startswith("solutions/")]
    assert len(pages) == len(solution_lines())
    assert phone_problems(probe_pages(site_with_solutions, pages, tmp_path)) == {}


def run_build(tmp_path, monkeypatch, **options) -> list[str]:
    """`cmd_build` with jupyter-book replaced by a recorder: returns the command it would run."""
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command, **kw: calls.append(command) or 0)
    monkeypatch.setattr("autograder.figures.generate", lambda folder, **kw: None)  # drawn: tested below
    args = Namespace(all=True, output=str(tmp_path), with_solutions=False)
    for key, value in options.items():
        setattr(args, key, value)
    assert cli.cmd_build(COURSE, args) == 0
    return calls[0]


def test_build_with_solutions_generates_its_own_toc_and_config(tmp_path, monkeypatch):
    command = run_build(tmp_path, monkeypatch, with_solutions=True)
    toc = yaml.safe_load(Path(command[command.index("--toc") + 1]).read_text())
    config = yaml.safe_load(Path(command[command.index("--config") + 1]).read_text())
    assert Path(command[command.index("--toc") + 1]).is_relative_to(tmp_path)
    repo_toc = yaml.safe_load((COURSE.root / "_toc.yml").read_text())
    assert toc["parts"][:len(repo_toc["parts"])] == repo_toc["parts"]
    added = [c["file"] for part in toc["parts"][len(repo_toc["parts"]):] for c in part["chapters"]]
    assert added == [f"solutions/{hw}/{q}" for hw in COURSE.homeworks() for q in COURSE.questions(hw)
                     if f"assignments/{hw}/{q}" in (COURSE.root / "_toc.yml").read_text()]
    assert "solutions" not in config["exclude_patterns"] and "workspace" in config["exclude_patterns"]
    assert "--toc" not in run_build(tmp_path, monkeypatch)  # the default build uses the repository's


def test_default_build_after_a_build_with_solutions_starts_afresh(tmp_path, monkeypatch):
    """Sphinx never deletes a page it built: a default build must not keep the solutions around."""
    stale = tmp_path / "_build" / "html" / "solutions" / "hw1" / "conv_by_hand.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("### BEGIN SOLUTION")
    run_build(tmp_path, monkeypatch)
    assert not (tmp_path / "_build").exists()
    kept = tmp_path / "_build" / "html" / "assignments" / "page.html"  # an ordinary rebuild keeps its cache
    kept.parent.mkdir(parents=True)
    kept.write_text("page")
    run_build(tmp_path, monkeypatch)
    assert kept.exists()


# --- Keras and PyTorch side by side, and the pages' figures (issue #9, points 4 and 5) ---------------

from autograder import figures  # noqa: E402
from conftest import MIRROR  # noqa: E402

# Pages whose questions accept either framework: their hints are in synced Keras / PyTorch tabs.
FRAMEWORK_PAGES = {"assignments/hw1/mnist_cnn.html": 3, "assignments/hw2/locally_connected.html": 2,
                   "assignments/hw1/gradcam.html": 2}
# Page -> the figures it shows (drawn by autograder/figures.py at build time, never by a solution).
PAGE_FIGURES = {"assignments/hw1/opencv_filters.html": ["filters_camera.png"],
                "assignments/hw1/mnist_cnn.html": ["mnist_samples.png"],
                "assignments/hw1/gradcam.html": ["gradcam_illustration.png"]}
PNG = b"\x89PNG\r\n\x1a\n"


def released_markdown() -> dict[str, str]:
    return {f"{hw}/{path.stem}": "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                                           if c["cell_type"] == "markdown")
            for hw in COURSE.homeworks() for path in sorted((COURSE.assignments / hw).glob("*.ipynb"))}


def test_figures_are_referenced_by_directives_with_alt_text():
    """A released notebook opened on Colab or in Jupyter has no book/figures/ next to it: a figure is a
    MyST directive (Jupyter shows its text, alt text included), never a Markdown or HTML image that
    would show as a broken picture."""
    referenced = {}
    for notebook, text in released_markdown().items():
        assert not re.search(r"!\[[^\]]*\]\([^)]*figures/|<img\b[^>]*figures/", text), notebook
        for block in re.findall(r"```\{(?:figure|image)\}[^\n]*\n.*?```", text, flags=re.S):
            path = block.split("\n", 1)[0].split("}", 1)[1].strip()
            assert path.startswith("../../book/figures/"), f"{notebook}: {path}"
            assert re.search(r"^:alt: \S.{20,}$", block, flags=re.M), f"{notebook}: {path} has no alt text"
            referenced.setdefault(notebook, []).append(path.rsplit("/", 1)[1])
        assert text.count("book/figures/") == len(referenced.get(notebook, [])), notebook
    assert referenced == {f"{page.split('/')[1]}/{Path(page).stem}": names for page, names in PAGE_FIGURES.items()}
    assert {name for names in referenced.values() for name in names} == set(figures.DRAW)


def test_figures_fall_back_to_a_placeholder_without_the_data(tmp_path, monkeypatch):
    """No MNIST at build time (no mirror, no cache, no network): the build still gets a file for every
    figure, a placeholder that says what is missing, and the digit-free figures are drawn as usual."""
    import data

    def unavailable():
        raise data.DataUnavailableError("MNIST is not cached and the network is off")

    monkeypatch.setattr(data, "load_mnist", unavailable)
    report = figures.generate(tmp_path)
    assert set(report) == set(figures.DRAW)
    assert report["mnist_samples.png"].startswith("placeholder: DataUnavailableError")
    assert report["filters_camera.png"] == "drawn" and report["gradcam_illustration.png"] == "drawn"
    assert all((tmp_path / name).read_bytes().startswith(PNG) for name in figures.DRAW)
    again = figures.generate(tmp_path)  # the same bytes are not written again (Sphinx copies nothing)
    assert again["filters_camera.png"] == "unchanged"


def test_figures_are_drawn_from_public_code_and_data_only():
    """autograder/figures.py imports only plotting and the course's public data package, and names no
    file of solutions/ or examples/: nothing a page shows comes from a reference solution."""
    import ast

    tree = ast.parse(Path(figures.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert imported <= {"__future__", "io", "sys", "struct", "zlib", "pathlib", "typing", "numpy", "matplotlib", "cv2", "data"}
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef)) and ast.get_docstring(node) is not None}
    strings = [node.value for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]
    assert not [s for s in strings if re.search(r"solutions|examples|\.ipynb|SOLUTION", s)]


def test_pages_show_their_figures(site):
    """The figures are in the built site (copied into _images/) and each page shows its own, with alt
    text, drawn from the data: not the placeholder."""
    for page, names in PAGE_FIGURES.items():
        text = (site / page).read_text()
        for name in names:
            tag = re.search(rf'<img\b[^>]*src="\.\./\.\./_images/{re.escape(name)}"[^>]*>', text)
            assert tag, f"{page} does not show {name}"
            assert re.search(r'alt="[^"]{20,}"', tag.group(0)), f"{page}: {name} has no alt text"
            built = site / "_images" / name
            assert built.read_bytes().startswith(PNG)
            if name != "mnist_samples.png" or MIRROR.is_dir():  # without the data: a placeholder (tested above)
                assert built.stat().st_size > 20_000, f"{name}: a placeholder, not the figure"
            assert built.read_bytes() == (COURSE.root / "book" / "figures" / name).read_bytes()


def test_framework_pages_have_synced_keras_and_pytorch_tabs(site):
    for page, count in FRAMEWORK_PAGES.items():
        text = (site / page).read_text()
        sets = text.split('<div class="sd-tab-set docutils">')[1:]
        assert len(sets) == count, f"{page}: {len(sets)} tab sets"
        for tab_set in sets:
            labels = re.findall(r'<label [^>]*class="sd-tab-label"[^>]*>', tab_set)[:2]
            assert [re.search(r'data-sync-group="(\w+)"', label).group(1) for label in labels] == ["framework"] * 2
            assert [re.search(r'data-sync-id="(\w+)"', label).group(1) for label in labels] == ["keras", "pytorch"]
        # sphinx-design's script keeps the choice in localStorage under a prefix (checked in a browser below)
        assert re.search(r'<script data-sd-tabs-storage-prefix="[^"]+" src="[^"]*design-tabs\.js', text), page


# Chooses PyTorch on one framework page in a frame, then opens the other page (same site, so the frame
# is readable with --allow-file-access-from-files) and reports which tab each tab set shows.
TABS_JS = r"""
const frame = document.getElementById("frame"), [first, second] = %(pages)s;
const load = url => new Promise(done => { frame.onload = () => setTimeout(done, 300); frame.src = url; });
const shown = () => Array.from(frame.contentDocument.querySelectorAll(".sd-tab-set"), set => {
  const input = set.querySelector(":scope > input:checked");
  return input && input.nextElementSibling.getAttribute("data-sync-id");
});
(async () => {
  const report = {};
  try {
    localStorage.clear();
    await load(first);
    report.first = shown();
    frame.contentDocument.querySelector("label.sd-tab-label[data-sync-id='pytorch']").click();
    await new Promise(done => setTimeout(done, 200));
    report.first_after_click = shown();
    await load(second);
    report.second = shown();
    await load(first);
    report.first_again = shown();
  } catch (e) { report.failed = String(e); }
  document.getElementById("report").textContent = JSON.stringify(report);
})();
"""


@needs_chromium
def test_choosing_pytorch_on_one_page_shows_pytorch_on_the_next(site, tmp_path):
    first, second = list(FRAMEWORK_PAGES)[:2]
    probe = site / "__tabs.html"
    probe.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
                     '<iframe id="frame" style="width:1000px;height:800px;border:0"></iframe><pre id="report"></pre>'
                     f'<script>{TABS_JS % {"pages": json.dumps([first, second])}}</script></body></html>')
    try:
        dom = chromium(probe.as_uri(), tmp_path, "--allow-file-access-from-files", budget_ms=30000)
    finally:
        probe.unlink()
    found = re.search(r'<pre id="report"[^>]*>(.*?)</pre>', dom, re.S)
    assert found and found.group(1).strip(), "the probe page reported nothing:\n" + dom[-2000:]
    report = json.loads(html.unescape(found.group(1)))
    assert report == {"first": ["keras"] * FRAMEWORK_PAGES[first],  # a first visit shows Keras
                      "first_after_click": ["pytorch"] * FRAMEWORK_PAGES[first],  # one click switches the page
                      "second": ["pytorch"] * FRAMEWORK_PAGES[second],  # and the next page
                      "first_again": ["pytorch"] * FRAMEWORK_PAGES[first]}


def test_build_draws_the_figures_before_jupyter_book(tmp_path, monkeypatch):
    order = []
    monkeypatch.setattr(figures, "generate", lambda folder, **kw: order.append(("figures", Path(folder))))
    monkeypatch.setattr(cli.subprocess, "call", lambda command, **kw: order.append(("jupyter-book", command)) or 0)
    assert cli.cmd_build(COURSE, Namespace(all=True, output=str(tmp_path), with_solutions=False)) == 0
    assert [step for step, _ in order] == ["figures", "jupyter-book"]
    assert order[0][1] == COURSE.root / "book" / "figures"  # next to the pages, whatever --output is
