# Two entry points for a fresh machine: `make demo` opens the UI on the demo
# experiments, `make test` runs the whole test suite. Both create .venv and
# install the package into it first; a second run skips what is up to date.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.birdtui-installed
DEMO_DATA := data/demo-birds

.PHONY: demo test install clean-venv

demo: $(STAMP) $(DEMO_DATA)/.complete
	$(BIN)/birdtui --config experiments.toml

test: $(STAMP)
	@# pytest exits 5 when it collected no tests; that must fail, not pass.
	$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# demo-data writes .complete last, so an interrupted run is redone.
$(DEMO_DATA)/.complete: $(STAMP)
	$(BIN)/birdtui demo-data $(DEMO_DATA)

clean-venv:
	rm -rf $(VENV)
