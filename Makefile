# The two commands of the README: `make demo` and `make test`. Both create .venv when it is
# missing and reinstall only when requirements.txt changed.
PY ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint build train eval bench clean blender-matrix

$(STAMP): requirements.txt
	@test -x $(VPY) || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VPY) scripts/demo.py

test: $(STAMP)
	$(VPY) -m ruff check .
	$(VPY) -m pytest -q

# the Blender version matrix alone (bpy 4.2.0 and 5.2.3 in .venv-bpy42 / .venv-bpy52, made
# by the test on first use); `make test` runs it too
blender-matrix: $(STAMP)
	$(VPY) -m pytest -q tests/test_blender_versions.py

lint: $(STAMP)
	$(VPY) -m ruff check .

build: $(STAMP)
	$(VPY) build.py --platform all

train: $(STAMP)
	$(VPY) -m training.train_all

# Both dev sets x both protocols, four runs in two processes (docs/eval/summary.md and
# docs/eval/<set>/<protocol>/report.md); psb-dev also gets the benchmark's own metrics.
eval: $(STAMP)
	$(VPY) -m training.evaluate --data ../shared/data/partnet-mobility-dev ../shared/data/psb-dev \
		--protocol mesh points --jobs 2 --report docs/eval --json

bench: $(STAMP)
	$(VPY) -m core.bench --json

clean:
	rm -rf out dist build_staging
