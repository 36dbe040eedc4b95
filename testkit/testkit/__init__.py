"""Helpers the Kinoarchive test suites share; a development-only package.

- `testkit.database`: throwaway databases (SQLite, or PostgreSQL with `TEST_DATABASE_URL`),
  sessions rolled back after each test, an app's sessions swapped for a test's, schema drift.
- `testkit.fuzzing`: schemathesis over a service's own OpenAPI document.
- `testkit.apps`: route functions and dependencies that FastAPI would run in a thread.
- `testkit.keys`: new RS256 or EdDSA key pairs as PEM files.

scripts/bootstrap.sh installs it into `.venv` with the services; no Dockerfile does, and
`scripts/check_deploy.py` fails an image that would carry it, schemathesis or hypothesis.
"""
