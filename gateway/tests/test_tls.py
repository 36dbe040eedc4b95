"""TLS: HTTPS with a certificate, HTTP redirected then, HSTS over HTTPS only.

A certificate for 127.0.0.1 and localhost is made once with the openssl command; the
clients trust it as their only authority, so a passing request proves the gateway served
it. Also here: the image's entrypoint.sh writes what render.py writes, and make run's
self-signed certificate (scripts/stack.py).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import render
from conftest import GatewayProcess, StubUpstream, free_port, nginx_test

HSTS = "max-age=31536000"
ROOT = render.GATEWAY_DIR.parent


def service_values(upstreams: dict[str, StubUpstream]) -> dict[str, str]:
    return {f"{name.upper()}_UPSTREAM": stub.address for name, stub in upstreams.items()}


def upstream_headers(echo: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echo["headers"] if key.lower() == name.lower()]


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the openssl command is needed to make a test certificate", pytrace=False)
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=gateway tests",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        capture_output=True,
        check=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_gateway(
    start_gateway: Any, upstreams: dict[str, StubUpstream], certificate: tuple[Path, Path]
) -> GatewayProcess:
    https_port = free_port()
    gateway: GatewayProcess = start_gateway(
        **service_values(upstreams),
        GATEWAY_TLS_CERT=str(certificate[0]),
        GATEWAY_TLS_KEY=str(certificate[1]),
        GATEWAY_HTTPS_PORT=f"127.0.0.1:{https_port}",
    )
    gateway.https_port = https_port  # type: ignore[attr-defined]
    return gateway


def trusting(cert: Path, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    if version is not None:
        context.minimum_version = context.maximum_version = version
    return context


@pytest.fixture
def https(tls_gateway: GatewayProcess, certificate: tuple[Path, Path]) -> Iterator[httpx.Client]:
    port = tls_gateway.https_port  # type: ignore[attr-defined]
    with httpx.Client(
        base_url=f"https://127.0.0.1:{port}", verify=trusting(certificate[0]), timeout=10
    ) as client:
        yield client


def test_https_answers_with_hsts_and_tells_the_services(
    https: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    for method, target, status in [
        ("GET", "/movies/?page=1", 200),
        ("POST", "/auth/login/", 200),
        ("GET", "/user/", 200),
        ("GET", "/", 200),
        ("GET", "/health", 200),
        ("GET", "/nope", 404),
    ]:
        response = https.request(method, target)
        assert response.status_code == status, (target, response.text)
        assert response.headers.get_list("strict-transport-security") == [HSTS], target
    echo = https.post("/auth/login/").json()
    assert upstream_headers(echo, "X-Forwarded-Proto") == ["https"]


def test_plain_http_is_redirected_to_https(
    tls_gateway: GatewayProcess, upstreams: dict[str, StubUpstream]
) -> None:
    port = tls_gateway.https_port  # type: ignore[attr-defined]
    with tls_gateway.client() as client:
        for method, status in [("GET", 301), ("HEAD", 301), ("POST", 308), ("PUT", 308),
                               ("DELETE", 308), ("OPTIONS", 308)]:  # fmt: skip
            response = client.request(method, "/movies/5/?page=2&q=%D0%BA")
            assert response.status_code == status, method
            assert response.headers["location"] == (
                f"https://127.0.0.1:{port}/movies/5/?page=2&q=%D0%BA"
            )
            assert "strict-transport-security" not in response.headers
        # The host the client asked for, without the HTTP port.
        response = client.get("/auth/login/", headers={"Host": "kino.example:8000"})
        assert response.headers["location"] == f"https://kino.example:{port}/auth/login/"
        # A gateway error page is not turned into a redirect.
        oversized = client.get("/movies/", headers={"X-Big": "x" * 20000})
        assert oversized.status_code == 400
        assert oversized.json()["code"] == "bad_request"
    assert all(not stub.requests for stub in upstreams.values())  # nothing was proxied


def test_health_stays_on_plain_http_without_hsts(tls_gateway: GatewayProcess) -> None:
    with tls_gateway.client() as client:
        for target in ("/health", "/health/", "/health/ready"):
            response = client.get(target)
            assert response.status_code == 200, target
            assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_are_spoken(
    tls_gateway: GatewayProcess, certificate: tuple[Path, Path], version: ssl.TLSVersion
) -> None:
    port = tls_gateway.https_port  # type: ignore[attr-defined]
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        trusting(certificate[0], version).wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() == version.name.replace("_", ".")


def test_older_protocols_are_refused(
    tls_gateway: GatewayProcess, certificate: tuple[Path, Path]
) -> None:
    """TLS 1.1 offered by a client willing to speak it (OpenSSL's security level 0)."""
    port = tls_gateway.https_port  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python frowns on TLS 1.1 too
        context = trusting(certificate[0], ssl.TLSVersion.TLSv1_1)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        pytest.raises(ssl.SSLError) as refused,
    ):
        context.wrap_socket(raw, server_hostname="127.0.0.1")
    assert "protocol version" in str(refused.value) or "unsupported protocol" in str(refused.value)


def test_the_rendered_listener_names_only_modern_protocols(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    render.write_local_config(
        tmp_path,
        {"GATEWAY_TLS_CERT": str(certificate[0]), "GATEWAY_TLS_KEY": str(certificate[1])},
    )
    text = (tmp_path / "conf.d" / "tls.inc").read_text()
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text
    assert "ssl_session_tickets off;" in text
    assert "listen 8443 ssl;" in text
    assert "return 301 https://$host:8443$request_uri;" in text


def test_without_tls_nothing_changes(gateway_without_tls: GatewayProcess) -> None:
    """No certificate: plain HTTP serves everything, never redirects, never sends HSTS."""
    with gateway_without_tls.client() as client:
        for method, target in [("GET", "/movies/"), ("POST", "/auth/login/"), ("GET", "/"),
                               ("GET", "/health"), ("GET", "/nope")]:  # fmt: skip
            response = client.request(method, target)
            assert response.status_code in (200, 404), target
            assert "strict-transport-security" not in response.headers
            assert "location" not in response.headers
    assert (gateway_without_tls.workdir / "conf.d" / "tls.inc").read_text() == render.TLS_OFF
    assert "ssl" not in (gateway_without_tls.workdir / "gateway.conf").read_text().replace(
        "tls.inc", ""
    )


@pytest.fixture
def gateway_without_tls(start_gateway: Any, upstreams: dict[str, StubUpstream]) -> GatewayProcess:
    gateway: GatewayProcess = start_gateway(**service_values(upstreams))
    return gateway


def test_a_certificate_without_its_key_is_refused(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    with pytest.raises(render.RenderError, match="GATEWAY_TLS_KEY is unset"):
        render.write_local_config(tmp_path, {"GATEWAY_TLS_CERT": str(certificate[0])})
    with pytest.raises(render.RenderError, match="GATEWAY_TLS_CERT is unset"):
        render.write_local_config(tmp_path, {"GATEWAY_TLS_KEY": str(certificate[1])})


def test_the_compose_rendering_with_tls_passes_nginx_t(
    nginx_binary: str, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    values = {
        "CATALOG_UPSTREAM": "catalog-service:8000",
        "AUTH_UPSTREAM": "auth-service:8000",
        "USER_UPSTREAM": "user-service:8000",
        "GATEWAY_TRUSTED_PROXIES": "10.0.0.5",
        "GATEWAY_HTTPS_PORT": "8443",
        "GATEWAY_HTTPS_REDIRECT_PORT": "443",
        "GATEWAY_TLS_CERT": str(certificate[0]),
        "GATEWAY_TLS_KEY": str(certificate[1]),
    }
    conf = render.write_local_config(tmp_path, values, mode="compose")
    result = nginx_test(nginx_binary, conf)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------
# The image's entrypoint.sh writes what render.py writes
# --------------------------------------------------------------------------------------


def run_entrypoint(out: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    out.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "GATEWAY_CONF_OUT": str(out),
        "GATEWAY_TLS_TEMPLATE": str(render.TLS_TEMPLATE_PATH),
        **environment,
    }
    return subprocess.run(
        ["sh", str(render.ENTRYPOINT_PATH), "echo", "handed over"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.mark.skipif(shutil.which("envsubst") is None, reason="envsubst (gettext-base) not found")
def test_entrypoint_writes_what_render_writes_with_tls(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    settings = {
        "GATEWAY_TRUSTED_PROXIES": "10.0.0.5, 172.16.0.0/12,2001:db8::/32",
        "GATEWAY_HTTPS_PORT": "8443",
        "GATEWAY_HTTPS_REDIRECT_PORT": "443",
        "GATEWAY_TLS_CERT": str(certificate[0]),
        "GATEWAY_TLS_KEY": str(certificate[1]),
    }
    result = run_entrypoint(tmp_path / "image", **settings)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "handed over\n"  # then it runs the base image's entrypoint
    render.write_local_config(tmp_path / "local", settings)
    for name in ("trusted-proxies.inc", "tls.inc"):
        image = (tmp_path / "image" / name).read_text()
        assert image == (tmp_path / "local" / "conf.d" / name).read_text(), name
    assert (
        "return 308 https://$host:443$request_uri;" in (tmp_path / "image" / "tls.inc").read_text()
    )


def test_entrypoint_without_certificate_writes_what_render_writes(tmp_path: Path) -> None:
    """Compose mounts /dev/null in place of a certificate that .env does not name."""
    result = run_entrypoint(
        tmp_path / "image", GATEWAY_TLS_CERT="/dev/null", GATEWAY_TLS_KEY="/dev/null"
    )
    assert result.returncode == 0, result.stderr
    render.write_local_config(tmp_path / "local")
    for name in ("trusted-proxies.inc", "tls.inc"):
        image = (tmp_path / "image" / name).read_text()
        assert image == (tmp_path / "local" / "conf.d" / name).read_text(), name


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"GATEWAY_TRUSTED_PROXIES": "10.0.0.5;evil"}, "is not an address or a network"),
        ({"GATEWAY_TLS_KEY": "/dev/null"}, "one is missing or empty"),
        ({"GATEWAY_HTTPS_PORT": "84 43"}, "GATEWAY_HTTPS_PORT must be a port"),
    ],
)
def test_entrypoint_refuses_bad_settings_and_does_not_start_nginx(
    tmp_path: Path, certificate: tuple[Path, Path], environment: dict[str, str], message: str
) -> None:
    settings = {
        "GATEWAY_HTTPS_PORT": "8443",
        "GATEWAY_TLS_CERT": str(certificate[0]),
        "GATEWAY_TLS_KEY": str(certificate[1]),
        **environment,
    }
    result = run_entrypoint(tmp_path, **settings)
    assert result.returncode == 1
    assert message in result.stderr
    assert "handed over" not in result.stdout


# --------------------------------------------------------------------------------------
# make run: GATEWAY_TLS=self-signed (scripts/stack.py)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stack_script", ROOT / "scripts" / "stack.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["stack_script"] = module
    spec.loader.exec_module(module)
    return module


def test_self_signed_certificate_is_made_once_with_a_private_key(
    stack_script: ModuleType, tmp_path: Path
) -> None:
    folder = tmp_path / "data" / "tls"
    cert, key = stack_script.self_signed_certificate(folder, "192.0.2.10")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert sorted(path.name for path in folder.iterdir()) == ["cert.pem", "key.pem"]
    names = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in ("DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1",
                 "IP Address:192.0.2.10"):  # fmt: skip
        assert name in names
    before = cert.read_bytes(), key.read_bytes()
    assert stack_script.self_signed_certificate(folder, "192.0.2.10") == (cert, key)
    assert (cert.read_bytes(), key.read_bytes()) == before  # kept, not made again
    key.chmod(0o644)
    with pytest.raises(SystemExit, match="others may read it"):
        stack_script.self_signed_certificate(folder, "192.0.2.10")


def test_make_run_serves_https_with_its_self_signed_certificate(
    stack_script: ModuleType,
    tmp_path: Path,
    nginx_binary: str,
    upstreams: dict[str, StubUpstream],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `GATEWAY_TLS=self-signed make run` renders, started against the stubs."""
    https_port = free_port()
    for name in ("GATEWAY_TLS_CERT", "GATEWAY_TLS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GATEWAY_TLS", "self-signed")
    monkeypatch.setenv("GATEWAY_HTTPS_PORT", str(https_port))
    monkeypatch.setenv("GATEWAY_PORT", str(free_port()))
    for name, stub in upstreams.items():
        monkeypatch.setenv(f"{name.upper()}_PORT", str(stub.port))
    stack = stack_script.configure(tmp_path / "data")
    assert stack.ports["gateway_https"] == https_port
    conf = stack_script.render_gateway(stack)
    gateway = GatewayProcess(
        nginx_binary, conf.parent, {"GATEWAY_PORT": str(stack.ports["gateway"])}
    )
    try:
        gateway.start(conf)
        cert = tmp_path / "data" / "tls" / "cert.pem"
        with httpx.Client(verify=trusting(cert), timeout=10) as client:
            response = client.get(f"https://127.0.0.1:{https_port}/movies/")
            redirect = client.get(f"http://127.0.0.1:{stack.ports['gateway']}/movies/")
        assert response.status_code == 200
        assert response.json()["service"] == "catalog"
        assert response.headers["strict-transport-security"] == HSTS
        assert redirect.status_code == 301
        assert redirect.headers["location"] == f"https://127.0.0.1:{https_port}/movies/"
    finally:
        gateway.stop()
