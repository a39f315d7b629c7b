# wayshub-infra — the commands a person types. `make up` deploys the `local` stack; `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

STACK ?= local
PYTHON ?= python3
VENV := venv
STATE_DIR := $(CURDIR)/.wayshub/state
# The secrets passphrase of the `local` stack only. Any other stack needs your own (PULUMI_CONFIG_PASSPHRASE
# or PULUMI_CONFIG_PASSPHRASE_FILE): the program refuses this default for it.
ifeq ($(STACK),local)
export PULUMI_CONFIG_PASSPHRASE ?= wayshub-local
endif
export PULUMI_BACKEND_URL ?= file://$(STATE_DIR)
export PULUMI_HOME ?= $(CURDIR)/.wayshub/pulumi-home
export PULUMI_SKIP_UPDATE_CHECK := true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION ?= true
# The engine folder (empty when a pulumi on PATH is used) goes first on PATH.
# (Evaluated once, on first use: `make help` builds nothing.) When scripts/ensure-pulumi fails, its one line
# (what to install) is the first thing printed and the target stops there, before its own commands.
ENGINE = $(eval ENGINE := $$(shell scripts/ensure-pulumi || echo ENGINE-FAILED))$(if $(filter ENGINE-FAILED,$(ENGINE)),$(error no Pulumi engine: see the line above),$(ENGINE))
# The venv's python first too: the language host we build runs `python3` from PATH.
WITH_ENGINE = PATH="$(if $(ENGINE),$(ENGINE):)$(CURDIR)/$(VENV)/bin:$$PATH"
PULUMI = $(WITH_ENGINE) pulumi --non-interactive
# The real provider plugins (pulumi-command, pulumi-docker) built from ../shared/vendor where it exists (empty
# elsewhere: the tests that need one skip). For the e2e pytest run ONLY: never for up, preview or the program.
PLUGINS = $(eval PLUGINS := $$(shell scripts/ensure-plugins))$(PLUGINS)
WITH_PLUGINS = PATH="$(if $(PLUGINS),$(PLUGINS):)$(if $(ENGINE),$(ENGINE):)$(CURDIR)/$(VENV)/bin:$$PATH"

# The e2e files run in parallel, a pytest-xdist worker per slot (tests/e2e/slots.py: each slot its own stacks,
# names, ports and subnets), a whole file per worker so a module's tests keep their order and fixtures.
E2E_SLOTS ?= 0,6
E2E_PYTEST = $(WITH_PLUGINS) WAYSHUB_E2E_SLOTS=$(E2E_SLOTS) $(VENV)/bin/pytest \
  -n $(words $(subst $(comma), ,$(E2E_SLOTS))) --dist loadfile
comma := ,

.PHONY: help about venv policy-venv engine plugins pebble docker sandbox-image stack up preview refresh rollback unpin recover destroy team-db state-move status logs ssh exec test-tools test quick e2e bench app-test lint clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

about: ## one screen for a bug report: commit, OS, Python, engine, packages, plugins, Docker, sandbox image
	@scripts/about

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## create the Python venv the program and tests use

# The policy pack's own venv: pulumi-policy pins a protobuf the program's venv does not run (docs/policies.md).
POLICY_VENV := policies/venv
$(POLICY_VENV)/.installed: policies/requirements.txt
	$(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/pip install -q --disable-pip-version-check -r policies/requirements.txt
	touch $@

policy-venv: $(POLICY_VENV)/.installed ## create the policy pack's venv (policies/: the production rules, docs/policies.md)

engine: ## build or find the Pulumi engine (cached after the first build)
	@: $(ENGINE)

plugins: ## build the real pulumi-command and pulumi-docker plugins from ../shared/vendor for the e2e tests (cached)
	@scripts/ensure-plugins >/dev/null

pebble: ## build Pebble, the ACME test server the e2e tests run (from its Go module, cached like the engine)
	@scripts/ensure-pebble >/dev/null || if command -v go >/dev/null; then exit 1; else \
	  echo "make pebble: no Go toolchain to build Pebble: the ACME e2e tests will be skipped (install Go 1.26+)" >&2; fi

docker: ## start a Docker engine if none answers (local stack, e2e tests)
	@scripts/ensure-docker

sandbox-image: docker ## build the sandbox VM image from Debian packages (cached)
	@scripts/sandbox-image >/dev/null

# Before the engine runs: the state backend answers, this role may write it (STATE_CHECK=--write: up, refresh,
# destroy, rollback) and the stack's lock is free; else ONE line says why (scripts/state_backend, docs/team.md).
STATE_BACKEND = $(VENV)/bin/python scripts/state-backend
up refresh destroy rollback unpin state-move: STATE_CHECK := --write
recover: STATE_CHECK := --recover

stack: venv engine
	@$(if $(filter file://$(STATE_DIR),$(PULUMI_BACKEND_URL)),mkdir -p $(STATE_DIR))
	@$(STATE_BACKEND) check --stack $(call shq,$(STACK)) $(STATE_CHECK)
	@# A new stack gets a random wayshub:releaseKey (a secret, by stdin): the release id's hash of
	@# appSecrets is keyed with it (docs/security.md).
	@$(PULUMI) stack select $(STACK) 2>/dev/null || { $(PULUMI) stack init $(STACK) && \
	  $(VENV)/bin/python -c 'import secrets; print(secrets.token_hex(32))' | \
	  $(PULUMI) config set --secret wayshub:releaseKey --stack $(STACK); }

up: stack sandbox-image ## deploy the stack (default: local sandbox VMs) and print the URL
	@date -u +%Y-%m-%dT%H:%M:%SZ > .wayshub/up-started-$(STACK)
	$(PULUMI) up --yes --stack $(STACK)
	@$(PULUMI) stack export --stack $(STACK) | \
	  $(VENV)/bin/python scripts/drift-report --since "$$(cat .wayshub/up-started-$(STACK))"
	@if $(PULUMI) stack output ca_certificate --stack $(STACK) >/dev/null 2>&1; then \
	  $(PULUMI) stack output ca_certificate --stack $(STACK) > .wayshub/ca-$(STACK).pem; fi
	@echo; echo "URL:  $$($(PULUMI) stack output url --stack $(STACK))"
	@echo "Try:  $$($(PULUMI) stack output curl --stack $(STACK))"
	@{ $(PULUMI) stack output sites --json --stack $(STACK) 2>/dev/null || true; } | $(VENV)/bin/python scripts/site-urls $(STACK)

# The policy pack checks a production stack (docs/policies.md). The engine we build runs it through
# policies/python-shim (PULUMI_PYTHON_CMD), also when that engine is on PATH as an install (laptop-check's
# copy); an official CLI uses the pack's venv by itself and never calls the shim the way it answers.
POLICY_PACK = PULUMI_PYTHON_CMD=$(CURDIR)/policies/python-shim 
preview: stack policy-venv ## show what `up` would change, with diffs; the policy pack checks a production stack
	$(POLICY_PACK)$(PULUMI) preview --diff --stack $(STACK) --policy-pack policies

refresh: stack ## read the hosts back (drift: docs/drift.md; SITE=shop: that site's); then `make preview` shows the repair, `make up` makes it
	$(if $(SITE),targets=$$($(OPS) targets) && )$(PULUMI) refresh --yes --diff --stack $(STACK) $(if $(SITE),$$(printf -- '--target=%s ' $$targets))

rollback: stack ## switch every app server back to its previous release (rolling, health-gated)
	$(WITH_ENGINE) $(VENV)/bin/python scripts/rollback --stack $(STACK)

unpin: stack ## after a rollback: deploy the release built from app/ again
	$(WITH_ENGINE) $(VENV)/bin/python scripts/rollback --stack $(STACK) --unpin

recover: stack ## after an interrupted up: mend torn state metadata, drop its lock, forget half-made creates, refresh; then `make up`
	$(VENV)/bin/python scripts/repair-state
	$(PULUMI) cancel --yes --stack $(STACK)
	$(PULUMI) refresh --yes --skip-preview --clear-pending-creates --stack $(STACK)

team-db: venv ## make a team's state database on PostgreSQL: ADMIN_URL=postgres://… (docs/team.md), WRITER_PASSWORD_FILE, READER_PASSWORD_FILE
	@$(if $(ADMIN_URL),,echo "make team-db: say which server, e.g. make team-db ADMIN_URL='postgres://postgres@db.example:5432/postgres?sslmode=verify-full&sslrootcert=ca.pem'" >&2; exit 2)
	@$(STATE_BACKEND) team-db $(call shq,$(ADMIN_URL)) $(if $(WRITER_PASSWORD_FILE),--writer-password-file $(call shq,$(WRITER_PASSWORD_FILE))) \
	  $(if $(READER_PASSWORD_FILE),--reader-password-file $(call shq,$(READER_PASSWORD_FILE)))

state-move: stack ## move the stack's state to TO=<backend URL> (e.g. the team's postgres://…, or file://… back), then preview it there: no change
	@$(if $(TO),,echo "make state-move: say where to, e.g. make state-move TO='postgres://wayshub_deploy@db.example/wayshub_state?sslmode=verify-full&sslrootcert=ca.pem'" >&2; exit 2)
	@$(WITH_ENGINE) $(STATE_BACKEND) move --stack $(call shq,$(STACK)) --to $(call shq,$(TO))
	PULUMI_BACKEND_URL=$(call shq,$(TO)) $(PULUMI) preview --expect-no-changes --stack $(STACK)
	@echo "make state-move: done; use it from now on: export PULUMI_BACKEND_URL='<the URL>' (docs/team.md)"

# SITE=shop: that site alone, the declarative way: its entry (and its siteSecrets, siteTls) leaves the stack's
# config, and the up removes exactly what it had; the other sites are not touched (docs/sites.md).
destroy: stack ## remove everything the stack made (SITE=shop: that site of wayshub:sites only)
	$(if $(SITE),$(OPS) remove-site && $(PULUMI) up --yes --stack $(STACK),$(PULUMI) destroy --yes --stack $(STACK))

# Day-2 operations on the deployed stack (docs/operate.md): hosts, key and pinned host keys come from the stack.
# SITE=shop: only that site of wayshub:sites (its app servers and the LBs); the stack's own site by its domain.
shq = '$(subst ','\'',$(1))'
OPS = $(WITH_ENGINE) $(VENV)/bin/python scripts/ops --stack $(STACK) $(if $(SITE),--site $(call shq,$(SITE)))

status: venv engine ## every host and site: release, unit, restarts, health, nginx upstream, disk (SITE=shop: one site); exit 1 if not as the stack says
	@$(OPS) status

logs: venv engine ## the apps' journals and the LB's nginx logs, merged by time (HOST=app1 SITE=shop FOLLOW=1 SINCE=10m)
	@$(OPS) logs $(if $(HOST),--host $(call shq,$(HOST))) $(if $(FOLLOW),--follow) $(if $(SINCE),--since $(call shq,$(SINCE)))

ssh: venv engine ## a shell on HOST=app1 with the stack's key (CMD=... runs one command instead; SITE=shop: in its app folder)
	@$(if $(HOST),,echo "make ssh: say which host, e.g. make ssh HOST=app1" >&2; exit 2)
	@$(OPS) ssh $(call shq,$(HOST)) $(if $(CMD),--cmd $(call shq,$(value CMD)))

exec: venv engine ## run CMD=... on every app server (or HOST=...), output per host (SITE=shop: its servers, in its app folder)
	@$(if $(CMD),,echo "make exec: say what to run, e.g. make exec CMD=uptime" >&2; exit 2)
	@$(OPS) exec $(call shq,$(value CMD)) $(if $(HOST),--host $(call shq,$(HOST)))

test-tools: ## install what the tests run (nginx, shellcheck, ssh, node, curl) as root, else say what to install
	@scripts/ensure-test-tools

# The site's scenarios (sandbox VMs and existing servers) run a second time with wayshub:commands=pulumi-command
# through its real plugin (they skip in one line where ensure-plugins built none). Every other e2e stack runs on the backend it names.
E2E_ON_PULUMI_COMMAND := tests/e2e/test_preview_no_build.py tests/e2e/test_rollout.py tests/e2e/test_drift.py \
  tests/e2e/test_hardening.py::test_a_changed_host_key_is_refused \
  tests/e2e/test_hardening.py::test_a_rotated_ssh_key_changes_every_connection_and_never_shows \
  tests/e2e/test_hardening.py::test_an_up_killed_between_two_hosts_switches_converges_when_run_again \
  tests/e2e/test_takeover.py tests/e2e/test_site.py \
  $(addprefix tests/e2e/test_existing_hosts.py::test_,the_whole_site_deploys_and_both_backends_answer_through_the_lb \
    with_one_app_server_stopped_the_site_still_answers a_second_up_changes_nothing \
    refresh_finds_everything_as_deployed destroy_leaves_no_unit_site_user_release_or_hosts_block_behind)
# WAYSHUB_REQUIRE_NGINX=1: the nginx template tests fail, not skip, without nginx.
test: test-tools venv policy-venv engine pebble sandbox-image ## run every test: lint, app, unit, templates, end to end (real engine, sandbox VMs)
	$(MAKE) --no-print-directory lint app-test
	WAYSHUB_REQUIRE_NGINX=1 $(VENV)/bin/pytest tests/unit tests/templates
	$(E2E_PYTEST) tests/e2e
	WAYSHUB_E2E_COMMANDS=pulumi-command $(E2E_PYTEST) $(E2E_ON_PULUMI_COMMAND)

quick: venv ## the inner loop: unit and template tests only
	$(VENV)/bin/pytest tests/unit tests/templates

e2e: venv policy-venv engine pebble sandbox-image ## end-to-end tests only (E2E_SLOTS=0,6: one pytest worker per slot)
	$(E2E_PYTEST) tests/e2e
	WAYSHUB_E2E_COMMANDS=pulumi-command $(E2E_PYTEST) $(E2E_ON_PULUMI_COMMAND)

bench: venv engine docker sandbox-image ## benchmarks vs the seed's plain nginx config and at scale (appends bench/RESULTS.md)
	$(WITH_ENGINE) $(VENV)/bin/python -m bench.run

app-test: ## the sample Node app's own tests (node --test)
	cd app && npm ci --no-audit --no-fund --silent && npm test --silent

# actionlint is a Go module too (its PyPI wrapper downloads a release binary, unreachable here).
ACTIONLINT_VERSION := v1.7.12
# The one built here, else one on PATH (installed the official way), else it is built (that needs Go).
ACTIONLINT = $(or $(wildcard $(VENV)/bin/actionlint),$(shell command -v actionlint),$(VENV)/bin/actionlint)
$(VENV)/bin/actionlint: | $(VENV)/.installed
	@command -v go >/dev/null || { echo "make lint: no actionlint on PATH and no Go toolchain to build one: install actionlint $(ACTIONLINT_VERSION) (https://github.com/rhysd/actionlint) or Go 1.26+" >&2; exit 2; }
	GOBIN=$(CURDIR)/$(VENV)/bin CGO_ENABLED=0 go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

lint: venv $(ACTIONLINT) ## ruff, mypy, actionlint (workflows), shellcheck (scripts run on hosts) and gixy (rendered nginx sites)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/mypy examples/python-program/__main__.py  # a program of its own: its __main__ apart from ours
	$(ACTIONLINT)
	shellcheck -S warning -s bash components/*/host/*.sh ops/host/*.sh
	shellcheck -S warning policies/python-shim
	$(VENV)/bin/pytest -q tests/templates/test_gixy.py

clean: ## remove the venvs and the engine link (not the engine cache, not stack state)
	rm -rf $(VENV) $(POLICY_VENV) .wayshub/bin
