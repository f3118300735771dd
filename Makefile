# Persona Lens — set-up, the main job and the tests. `make run` and `make test` create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-slow bench

# torch first, from the local CPU wheel; everything else under constraints.txt so that nothing pulls a
# CUDA build of torch (there is no CPU torchvision here either). The install log goes to a file because
# pip repeats a harmless warning per package for this machine's extra index.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) (first time: ~2 minutes; log in $(VENV)/install.log)"
	@$(BIN)/pip install torch==2.13.0 > $(VENV)/install.log 2>&1 || (tail -30 $(VENV)/install.log; exit 1)
	@$(BIN)/pip install -c constraints.txt -e '.[test]' >> $(VENV)/install.log 2>&1 || (tail -30 $(VENV)/install.log; exit 1)
	@$(BIN)/pip check
	@if $(BIN)/pip list 2>/dev/null | grep -qiE '^(torchvision|nvidia-)'; then \
		echo "error: a CUDA or torchvision package was installed"; exit 1; fi
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/persona-lens run

test: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/embed_throughput.py
	$(BIN)/python benchmarks/ingest_throughput.py
