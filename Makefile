# The two commands that matter: `make run` and `make test`. Both prepare a fresh
# machine first (virtual environment, packages, nginx) through scripts/bootstrap.sh.
.PHONY: run test test-postgres check-deploy check-licenses check-helm lint format bootstrap \
	import clean bench compose-up compose-down compose-roll compose-test

VENV := .venv/bin

run: bootstrap
	$(VENV)/python scripts/stack.py

test: bootstrap
	scripts/test.sh

# The shared, service and end-to-end suites again, on PostgreSQL (override the URL at will).
test-postgres: bootstrap
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres} \
		SUITES="shared catalog-service auth-service user-service tests-e2e" scripts/test.sh

lint: bootstrap
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy shared/shared testkit/testkit catalog-service/catalog_service \
		auth-service/auth_service user-service/user_service gateway/render.py gateway/tests \
		scripts/stack.py scripts/check_deploy.py scripts/check_licenses.py scripts/compose.py \
		scripts/openapi.py scripts/check_helm.py deploy/tests bench
	@# One run per suite whose module names would clash with another's: each tests/ below
	@# is a package named `tests`, and tests-e2e, its browser/ and tests-compose each have
	@# a top-level conftest.py. MYPYPATH holds what pytest puts on sys.path.
	for suite in shared catalog-service auth-service user-service; do \
		$(VENV)/mypy $$suite/tests || exit 1; done
	MYPYPATH=tests-e2e:tests-e2e/security $(VENV)/mypy tests-e2e/*.py tests-e2e/faults \
		tests-e2e/security
	MYPYPATH=tests-e2e/browser $(VENV)/mypy tests-e2e/browser
	MYPYPATH=scripts:tests-e2e $(VENV)/mypy tests-compose

# docker-compose.yml and the Dockerfiles, checked without Docker (also a test suite).
check-deploy: bootstrap
	$(VENV)/python scripts/check_deploy.py

# Every package the service images ship, licensed compatibly with MIT (README, "License").
check-licenses: bootstrap
	$(VENV)/python scripts/check_licenses.py

# The Helm chart (deploy/helm/kinoarchive; README, "Kubernetes"), checked without a
# cluster: lint, the Kubernetes API schemas, its wiring, yamllint and checkov (installed
# into .venv-tools on first use).
check-helm: bootstrap
	$(VENV)/python scripts/check_helm.py

# The composed stack (docker-compose.yml; README, "Deployment"). The Docker engine and
# the base images come first: deploy/ci/engine.sh installs and starts dockerd when none
# answers, deploy/ci/standins.sh builds stand-ins for images that no registry serves.
#   make compose-up                      build, start, wait until healthy (.env made once)
#   make compose-down [VOLUMES=1]        stop and remove the containers (and the data)
#   make compose-roll SERVICE=NAME       rebuild one service, replace it with no downtime
#   make compose-test                    a stack of its own, every suite against it, removed
COMPOSE := python3 scripts/compose.py

compose-up:
	deploy/ci/engine.sh start
	deploy/ci/standins.sh
	$(COMPOSE) up

compose-down:
	$(COMPOSE) down $(if $(VOLUMES),--volumes)

compose-roll:
	$(COMPOSE) roll $(SERVICE)

compose-test: bootstrap
	deploy/ci/engine.sh start
	deploy/ci/standins.sh
	$(VENV)/python scripts/compose.py test

# The benchmark (bench/README.md): wrk on loopback (installed with apt-get when run as
# root on Debian), the stack on core 0 and wrk on core 1; prints the table of results and
# writes bench/RESULTS.md. BENCH_ARGS="--quick" tries it in about two minutes.
bench: bootstrap
	$(VENV)/python -m bench $(BENCH_ARGS)

format: bootstrap
	$(VENV)/ruff check --fix .
	$(VENV)/ruff format .

# make import FILE=path/to/catalog.json [REPLACE=1]
import: bootstrap
	$(VENV)/catalog-service import "$(FILE)" $(if $(REPLACE),--replace)

bootstrap:
	@scripts/bootstrap.sh

clean:
	rm -rf .venv .venv-tools var .pytest_cache .mypy_cache .ruff_cache
