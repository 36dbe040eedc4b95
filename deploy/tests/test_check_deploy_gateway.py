"""scripts/check_deploy.py's gateway rules for HTTPS: what the compose file must give the
image (published ports, the redirect's port, the certificate and key mounted read-only)
and what the image must hold (its entrypoint and TLS template). Each test breaks one of
them in a copy of the deployment (test_check_deploy.py's `root`)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

# The copy of the deployment (the `root` fixture) and the helpers that break it.
_base = importlib.import_module("test_check_deploy")
root = _base.root
edit = _base.edit
problems = _base.problems
assert_fails = _base.assert_fails

HTTPS_PORT = '      - "${GATEWAY_BIND:-127.0.0.1}:${GATEWAY_HTTPS_PORT:-8443}:8443"\n'
CERT = "      - ${GATEWAY_TLS_CERT:-/dev/null}:/etc/nginx/tls/cert.pem:ro\n"
KEY = "      - ${GATEWAY_TLS_KEY:-/dev/null}:/etc/nginx/tls/key.pem:ro\n"


def test_the_real_gateway_passes(root: Path) -> None:
    assert problems(root, "gateway") == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (HTTPS_PORT, "", "does not publish container port 8443 (GATEWAY_HTTPS_PORT)"),
        (
            "GATEWAY_HTTPS_REDIRECT_PORT: ${GATEWAY_HTTPS_PORT:-8443}",
            "GATEWAY_HTTPS_REDIRECT_PORT: 443",
            "GATEWAY_HTTPS_REDIRECT_PORT is not the published HTTPS port (8443)",
        ),
        (CERT, "", "mounts nothing at /etc/nginx/tls/cert.pem (GATEWAY_TLS_CERT"),
        (
            KEY,
            KEY.replace(":ro\n", "\n"),
            "mounts /etc/nginx/tls/key.pem (GATEWAY_TLS_KEY) writable",
        ),
    ],
)
def test_compose_must_wire_the_https_listener(
    root: Path,
    old: str,
    new: str,
    expected: str,
) -> None:
    edit(root / "docker-compose.yml", old, new)
    assert_fails(root, "gateway", expected)


@pytest.mark.parametrize("name", ["tls.inc.template", "entrypoint.sh"])
def test_the_image_must_hold_the_entrypoint_and_the_tls_template(
    root: Path,
    name: str,
) -> None:
    edit(root / "gateway" / "Dockerfile", f" gateway/nginx/{name}", "")
    assert_fails(root, "gateway", f"does not copy {name} into the image")


def test_a_tls_placeholder_without_a_value(root: Path) -> None:
    edit(root / "gateway" / "Dockerfile", "    GATEWAY_TLS_KEY=/etc/nginx/tls/key.pem\n", "\n")
    edit(root / "gateway" / "Dockerfile", "GATEWAY_TLS_CERT=/etc/nginx/tls/cert.pem \\", "")
    assert_fails(root, "gateway", "placeholder ${GATEWAY_TLS_KEY} of tls.inc.template")
