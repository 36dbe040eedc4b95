#!/usr/bin/env bash
# Every test suite, one after the other: `make test`.
#   TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres  runs them on PostgreSQL
#   SUITES="catalog-service tests-e2e"                                runs only those
# Each suite runs in its own pytest process (its own configuration and fixtures);
# a suite that collects no test fails, as pytest's exit code 5 says.
set -uo pipefail
cd "$(dirname "$0")/.."

SUITES=${SUITES:-"shared catalog-service auth-service user-service gateway deploy tests-e2e"}
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
failed=()
database=${TEST_DATABASE_URL:+PostgreSQL}
for suite in $SUITES; do
    echo "=== $suite (${database:-SQLite})"
    if ! .venv/bin/python -m pytest "$suite" -q --junitxml="$reports/${suite//\//_}.xml"; then
        failed+=("$suite")
    fi
done

.venv/bin/python - "$reports" <<'PY'
import sys
from pathlib import Path
from xml.etree import ElementTree

totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for report in Path(sys.argv[1]).glob("*.xml"):
    for suite in ElementTree.parse(report).getroot().iter("testsuite"):
        for key in totals:
            totals[key] += int(suite.get(key, 0))
failed = totals["failures"] + totals["errors"]
passed = totals["tests"] - failed - totals["skipped"]
print(f"all suites: {passed} passed, {failed} failed, {totals['skipped']} skipped")
PY

if [ ${#failed[@]} -gt 0 ]; then
    echo "failed suites: ${failed[*]}" >&2
    exit 1
fi
