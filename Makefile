# Two entry points: `make demo` (the whole course pipeline) and `make test` (the project's tests).
# Each installs what it needs into .venv (Python 3.11) and, as root on Debian, the system tools.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# nbgrader shells out to alembic from the venv when it creates a gradebook.
export PATH := $(abspath $(VENV))/bin:$(PATH)
# The offline dataset mirror, where one sits next to the repository (CI, this course's machines).
MIRROR := $(wildcard $(abspath ../shared/datasets))
ifneq ($(MIRROR),)
export COURSE_DATA_MIRROR ?= $(MIRROR)
export COURSE_DATA_OFFLINE ?= 1
endif
DEMO_WORKSPACE := workspace/demo

.PHONY: demo test install install-gpu system-deps build release grade-demo clean

$(VENV)/.installed: requirements.txt requirements-common.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed system-deps

# A GPU runner: the same venv with CUDA builds (TensorFlow's; torch's from PyPI), so student
# answers train on the GPU whichever framework they use. `make test` and `make demo` keep it.
install-gpu: system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip uninstall --quiet --yes tensorflow-cpu || true
	$(PY) -m pip install --quiet -r requirements-gpu.txt
	touch $(VENV)/.installed

# bubblewrap is the grading sandbox; chromium renders the site in the browser test.
system-deps:
	@missing=""; command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "please install:$$missing (e.g. sudo apt-get install$$missing)"; fi; \
	fi

release: install
	$(PY) -m autograder release

build: install
	$(PY) -m autograder build

demo: install
	rm -rf $(DEMO_WORKSPACE)
	$(PY) -m autograder release --check || $(PY) -m autograder release
	$(PY) -m autograder build
	for hw in $$($(PY) -m autograder homeworks); do \
	  $(PY) -m autograder --workspace $(DEMO_WORKSPACE) collect $$hw --from examples/submissions && \
	  $(PY) -m autograder --workspace $(DEMO_WORKSPACE) grade $$hw && \
	  $(PY) -m autograder --workspace $(DEMO_WORKSPACE) feedback $$hw && \
	  $(PY) -m autograder --workspace $(DEMO_WORKSPACE) table $$hw || exit 1; \
	done
	$(PY) -m autograder --workspace $(DEMO_WORKSPACE) export

test: install
	$(PY) -m pytest

clean:
	rm -rf _build workspace book/figures
