# The two commands a newcomer needs: `make run` and `make test`. Both set up on first use.
SHELL := /bin/bash
APP := .venv/app/bin/python
RASA := .venv/rasa/bin/rasa
export PYTHONPATH := $(CURDIR)/assistant:$(CURDIR)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup run prepare browser test test-unit test-rasa test-e2e lint lint-check format index eval eval-dev nlu-report bench bench-search clean

setup:  ## create or update the two Python environments (fast when nothing changed)
	@bash scripts/setup.sh

run: setup  ## train if needed, index if needed, start Rasa + actions + gateway
	@$(APP) -m scripts.stack run

prepare: setup  ## train the Rasa model and build the index if they are out of date
	@$(APP) -m scripts.stack prepare

test: prepare browser  ## the whole suite: unit, Rasa data + conversation tests, end-to-end (real browser)
	@$(MAKE) --no-print-directory lint-check test-unit test-rasa test-e2e

browser:  ## Debian's chromium for the real-browser tests (installed if missing)
	@bash scripts/browser.sh

test-unit:
	$(APP) -m pytest -q -m "not e2e" tests

test-rasa:
	cd assistant && ../$(RASA) data validate --config config.yml --domain domain.yml --data data --fail-on-warnings
	cd assistant && ../$(RASA) test core --model "$$(../$(APP) -m scripts.stack model-path)" \
		--stories tests --fail-on-prediction-errors --out $(CURDIR)/var/rasa-test-results

test-e2e:
	$(APP) -m pytest -q -m e2e tests

lint: setup lint-check  ## ruff (format check + lint) and mypy

lint-check:
	$(APP) -m ruff format --check .
	$(APP) -m ruff check .
	$(APP) -m mypy

format: setup
	$(APP) -m ruff format .
	$(APP) -m ruff check --fix .

index: setup  ## rebuild the search index from knowledge/corpus
	$(APP) -m knowledge build

nlu-report: setup  ## 5-fold NLU cross-validation, per-language intent F1 -> docs/nlu-report.md (~10 min)
	rm -rf var/nlu-cv
	cd assistant && ../$(RASA) test nlu --config config.yml --nlu data/nlu --cross-validation --folds 5 \
		--successes --no-plot --out $(CURDIR)/var/nlu-cv
	$(APP) scripts/nlu_report.py var/nlu-cv docs/nlu-report.md

eval: prepare  ## retrieval quality and thresholds (our set + real-source dev half); answers on the locked real-source test half -> docs/
	$(APP) -m knowledge eval --calibrate --calibrate-with knowledge/eval/real-source/dev.yaml --report docs/eval-report.md
	$(APP) -m actions.evaluation --split test --report docs/answer-eval.md

eval-dev: prepare  ## the answers on the real-source dev half, with every wrong and refused one listed (tune on this)
	$(APP) -m actions.evaluation --split dev --show wrong,refused --report var/answer-eval-dev.md

bench: prepare  ## chat latency/throughput, memory and cold start of the real stack (bench/results/chat-*); BENCH_ARGS=--quick for a short run; PROFILE=scale for two Rasa replicas
	$(APP) -m bench.chat --profile $(or $(PROFILE),default) $(BENCH_ARGS)

bench-search: setup  ## search latency, update time and memory at 1k/10k/50k passages (bench/results/)
	$(APP) -m bench.search


clean:
	rm -rf var .venv .pytest_cache .mypy_cache .ruff_cache
