"""Render the gateway's nginx configuration, for a local run or as the Docker image does.

The template (``nginx/gateway.conf.template``) is for nginx's http context and uses
envsubst placeholders (``${NAME}``), so the same file also works with the official nginx
Docker image's template mechanism. Beside it, one small template per mode says where the
services are (``nginx/upstreams.MODE.conf.template``):

- ``local``: upstream groups with keep-alive, addresses resolved once at start;
- ``compose``: service names resolved again at request time through Docker's DNS, so
  that replicas added with ``docker compose up --scale`` get traffic.

Three more files hold what envsubst cannot write (the image's ``nginx/entrypoint.sh``
writes the same text there):

- ``conf.d/trusted-proxies.inc``: a line per network of ``GATEWAY_TRUSTED_PROXIES``
  (comma-separated, empty by default), the proxies whose ``X-Forwarded-For`` names the
  client;
- ``conf.d/tls.inc``: ``nginx/tls.inc.template`` rendered when ``GATEWAY_TLS_CERT`` and
  ``GATEWAY_TLS_KEY`` are both set (HTTPS on ``GATEWAY_HTTPS_PORT``, plain HTTP
  redirected there), a comment when neither is;
- ``conf.d/access-log.inc``: where the JSON access lines go. Standard output, a line
  written as each request ends, in the image (``docker logs``) and by default; a local
  run may name a file instead (``write_local_config(access_log=...)``), which nginx
  then writes through a 64 KB buffer flushed every second (``scripts/stack.py`` follows
  that file to the terminal).

This module substitutes the placeholders and writes a complete main configuration that
runs nginx in the foreground as an ordinary process::

    python gateway/render.py --out DIR                 # prints DIR/nginx.conf
    nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'
    python gateway/render.py --out DIR --mode compose  # what the image runs, for nginx -t

Standard library only: the local runner imports it before any virtual environment exists.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

GATEWAY_DIR = Path(__file__).resolve().parent
NGINX_DIR = GATEWAY_DIR / "nginx"
TEMPLATE_PATH = NGINX_DIR / "gateway.conf.template"
TLS_TEMPLATE_PATH = NGINX_DIR / "tls.inc.template"
ENTRYPOINT_PATH = NGINX_DIR / "entrypoint.sh"
WEB_ROOT = GATEWAY_DIR / "web"

MODES = ("local", "compose")
UPSTREAMS_TEMPLATES = {mode: NGINX_DIR / f"upstreams.{mode}.conf.template" for mode in MODES}

PLACEHOLDERS = (
    "GATEWAY_PORT",
    "CATALOG_UPSTREAM",
    "AUTH_UPSTREAM",
    "USER_UPSTREAM",
    "WEB_ROOT",
    "CORS_ALLOW_ORIGIN",
    "GATEWAY_UPSTREAM_TIMEOUT",
    "GATEWAY_RESOLVER",
    "GATEWAY_CACHE_DIR",
    "GATEWAY_AUTH_RATE",
    "GATEWAY_AUTH_BURST",
)

# Placeholders of tls.inc.template: needed only when TLS is on.
TLS_PLACEHOLDERS = (
    "GATEWAY_HTTPS_PORT",
    "GATEWAY_HTTPS_REDIRECT_PORT",
    "GATEWAY_TLS_CERT",
    "GATEWAY_TLS_KEY",
)

# The outer ring's defaults: a person never comes near them (a login, a refresh, a few
# tabs at once), a script hammering /auth/ from one address is held to 10 a second.
DEFAULT_AUTH_RATE = "10r/s"
DEFAULT_AUTH_BURST = "20"

_DEFAULTS = {
    "GATEWAY_PORT": "8000",
    "CATALOG_UPSTREAM": "127.0.0.1:8001",
    "AUTH_UPSTREAM": "127.0.0.1:8002",
    "USER_UPSTREAM": "127.0.0.1:8003",
    "WEB_ROOT": str(WEB_ROOT),
    "CORS_ALLOW_ORIGIN": "*",
    "GATEWAY_UPSTREAM_TIMEOUT": "30s",
    "GATEWAY_RESOLVER": "127.0.0.11",  # Docker's embedded DNS (compose mode only)
    # The catalog's cached answers (proxy_cache_path) in the Docker image; a local
    # rendering (write_local_config) keeps them under its own temp folder.
    "GATEWAY_CACHE_DIR": "/var/cache/nginx/kinoarchive",
    # The outer ring on /auth/ and /user/password, per client address (nginx's syntax:
    # requests per second or per minute, and how many may come at once beyond that).
    "GATEWAY_AUTH_RATE": DEFAULT_AUTH_RATE,
    "GATEWAY_AUTH_BURST": DEFAULT_AUTH_BURST,
    # Networks of the proxies in front of the gateway whose X-Forwarded-For is believed
    # (comma-separated); none by default: every client is the address it connects from.
    "GATEWAY_TRUSTED_PROXIES": "",
    # TLS: both paths set turn HTTPS on (unset: plain HTTP only, as without TLS).
    "GATEWAY_TLS_CERT": "",
    "GATEWAY_TLS_KEY": "",
    "GATEWAY_HTTPS_PORT": "8443",
    # The port in the redirect's URL; default: the port of GATEWAY_HTTPS_PORT.
    "GATEWAY_HTTPS_REDIRECT_PORT": "",
}

_RATE = re.compile(r"^[1-9][0-9]*r/[sm]$")
_BURST = re.compile(r"^[0-9]+$")
_PORT = re.compile(r"^(?:.*:)?([1-9][0-9]{0,4})$")

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# A value lands inside an nginx directive: nothing that could end it or open a block.
_UNSAFE_VALUE = re.compile(r"[\s;{}'\"\\$#]")

_MIME_TYPES_CANDIDATES = (
    Path("/etc/nginx/mime.types"),
    Path("/usr/local/etc/nginx/mime.types"),
    Path("/usr/local/nginx/conf/mime.types"),
    Path("/opt/homebrew/etc/nginx/mime.types"),
)

# Used only where no nginx mime.types is found: enough for the web app.
_FALLBACK_MIME_TYPES = """types {
    text/html                 html htm;
    text/css                  css;
    text/plain                txt;
    application/javascript    js mjs;
    application/json          json;
    image/svg+xml             svg svgz;
    image/png                 png;
    image/jpeg                jpeg jpg;
    image/gif                 gif;
    image/webp                webp;
    image/x-icon              ico;
    font/woff                 woff;
    font/woff2                woff2;
}
"""

TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class RenderError(ValueError):
    """A placeholder has no value, or a value that cannot go into nginx's configuration."""


def render(template: str, values: Mapping[str, str]) -> str:
    """Substitute every ``${NAME}`` in *template*; ``$nginx_variable`` is left alone.

    Raises RenderError naming each placeholder without a (non-empty) value, and each
    value that could break out of its directive.
    """
    names = list(dict.fromkeys(_PLACEHOLDER.findall(template)))
    missing = [name for name in names if not values.get(name)]
    if missing:
        listed = ", ".join(f"${{{name}}}" for name in missing)
        raise RenderError(f"no value for placeholder {listed}")
    unsafe = [name for name in names if _UNSAFE_VALUE.search(values[name])]
    if unsafe:
        raise RenderError(
            "value of "
            + ", ".join(f"${{{name}}}" for name in unsafe)
            + " contains whitespace or one of ; { } ' \" \\ $ #"
        )
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def trusted_proxies(value: str) -> list[str]:
    """The networks of GATEWAY_TRUSTED_PROXIES, as written (an address is a network too).

    Raises RenderError for an entry that is not an IPv4 or IPv6 address or network (with
    host bits set, as 10.0.0.5/8: nginx would ignore them, so the intent is unclear).
    """
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=True)
        except ValueError:
            raise RenderError(
                f"GATEWAY_TRUSTED_PROXIES: {entry!r} is not an address or a network "
                "(such as 10.0.0.5 or 10.0.0.0/8)"
            ) from None
    return entries


def render_trusted_proxies(entries: list[str]) -> str:
    """conf.d/trusted-proxies.inc: realip's trusted networks, and $gw_trusted_peer."""
    lines = [
        "# Written at start from GATEWAY_TRUSTED_PROXIES: the proxies whose X-Forwarded-For",
        "# (and X-Forwarded-Proto) the gateway believes. None: every client is its own address.",
    ]
    lines += [f"set_real_ip_from {entry};" for entry in entries]
    lines += ["geo $realip_remote_addr $gw_trusted_peer {", "    default 0;"]
    lines += [f"    {entry} 1;" for entry in entries]
    lines += ["}"]
    return "\n".join(lines) + "\n"


TLS_OFF = (
    "# No GATEWAY_TLS_CERT and GATEWAY_TLS_KEY: plain HTTP only (tls.inc.template is the\n"
    "# HTTPS listener that goes here when both are set).\n"
)


def tls_enabled(values: Mapping[str, str]) -> bool:
    """Whether GATEWAY_TLS_CERT and GATEWAY_TLS_KEY are both set (RenderError for one)."""
    cert, key = values.get("GATEWAY_TLS_CERT", ""), values.get("GATEWAY_TLS_KEY", "")
    if bool(cert) != bool(key):
        missing = "GATEWAY_TLS_KEY" if cert else "GATEWAY_TLS_CERT"
        raise RenderError(
            f"TLS needs both GATEWAY_TLS_CERT and GATEWAY_TLS_KEY: {missing} is unset"
        )
    return bool(cert)


def render_tls(values: Mapping[str, str]) -> str:
    """conf.d/tls.inc: the HTTPS listener when TLS is on, else a comment."""
    if not tls_enabled(values):
        return TLS_OFF
    merged = dict(values)
    port = _PORT.match(merged.get("GATEWAY_HTTPS_PORT", ""))
    if port is None:
        raise RenderError("GATEWAY_HTTPS_PORT must be a port, or host:port")
    if not merged.get("GATEWAY_HTTPS_REDIRECT_PORT"):
        merged["GATEWAY_HTTPS_REDIRECT_PORT"] = port.group(1)
    if _PORT.match(merged["GATEWAY_HTTPS_REDIRECT_PORT"]) is None:
        raise RenderError("GATEWAY_HTTPS_REDIRECT_PORT must be a port")
    return render(TLS_TEMPLATE_PATH.read_text(encoding="utf-8"), merged)


# conf.d/access-log.inc: the image's (entrypoint.sh writes this text) and the default.
ACCESS_LOG_STDOUT = (
    "# The JSON access lines, to standard output as each request ends (docker logs).\n"
    "access_log /dev/stdout kinoarchive_json;\n"
)
# A file instead (a local run): written 64 KB at a time, and at least once a second.
ACCESS_LOG_BUFFERING = "buffer=64k flush=1s"


def render_access_log(path: Path | None) -> str:
    """conf.d/access-log.inc: standard output (None), or the file *path*, buffered."""
    if path is None:
        return ACCESS_LOG_STDOUT
    target = str(Path(path).resolve())
    if _UNSAFE_VALUE.search(target):
        raise RenderError(
            f"the access log's path {target!r} contains whitespace or one of ; {{ }} ' \" \\ $ #"
        )
    return (
        "# The JSON access lines, to a file: buffered, flushed at least once a second.\n"
        f"access_log {target} kinoarchive_json {ACCESS_LOG_BUFFERING};\n"
    )


def check_limits(values: Mapping[str, str]) -> None:
    """RenderError unless the rate and burst are written as nginx reads them."""
    if not _RATE.match(values.get("GATEWAY_AUTH_RATE", "")):
        raise RenderError("GATEWAY_AUTH_RATE must be requests per second or minute, as 10r/s")
    if not _BURST.match(values.get("GATEWAY_AUTH_BURST", "")):
        raise RenderError("GATEWAY_AUTH_BURST must be a whole number of requests, as 20")


def defaults() -> dict[str, str]:
    """The default placeholder values; an environment variable of the same name overrides each."""
    return {name: os.environ.get(name) or value for name, value in _DEFAULTS.items()}


def find_nginx() -> str | None:
    """The nginx binary: first on PATH, then /usr/sbin/nginx; None when there is none."""
    found = shutil.which("nginx")
    if found:
        return found
    fallback = Path("/usr/sbin/nginx")
    if fallback.is_file() and os.access(fallback, os.X_OK):
        return str(fallback)
    return None


def _mime_types(out_dir: Path) -> Path:
    for candidate in _MIME_TYPES_CANDIDATES:
        if candidate.is_file():
            return candidate
    fallback = out_dir / "mime.types"
    fallback.write_text(_FALLBACK_MIME_TYPES, encoding="utf-8")
    return fallback


def _user_directive(out_dir: Path) -> str:
    """As root, run the workers as the owner of *out_dir* (nginx would pick ``nobody``).

    The workers must write the temp folders under *out_dir* and read the web root; the
    owner of the folder the caller chose is the one account sure to be able to.
    An ordinary user's workers simply run as that user: no directive.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return ""
    import grp  # noqa: PLC0415  (POSIX only, and only needed as root)
    import pwd  # noqa: PLC0415

    info = out_dir.stat()
    try:
        user = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        user = "root"
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = user
    return f"user {user} {group};\n"


def write_local_config(
    out_dir: Path,
    values: Mapping[str, str] | None = None,
    *,
    mode: str = "local",
    access_log: Path | None = None,
) -> Path:
    """Write ``out_dir/nginx.conf`` and the two files it includes; return its path.

    ``gateway.conf`` is the rendered template, ``upstreams.conf`` the rendered upstreams
    template of *mode* (``local`` or ``compose``), and ``conf.d/`` holds the files
    written from settings (trusted proxies, TLS, the access log: standard output, or the
    file *access_log*, buffered). *values* override :func:`defaults` (pass only what
    differs). nginx.conf has no ``daemon`` directive: start it with ``-g 'daemon off;'``.
    """
    if mode not in UPSTREAMS_TEMPLATES:
        raise RenderError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    merged = {**defaults(), **(values or {})}
    # Like the temp folders below, the catalog's cache lives in out_dir: the value for
    # the image (/var/cache/nginx/...) may not exist or be writable here.
    merged["GATEWAY_CACHE_DIR"] = str(out_dir / "temp" / "cache")
    check_limits(merged)
    generated = {
        "trusted-proxies.inc": render_trusted_proxies(
            trusted_proxies(merged.get("GATEWAY_TRUSTED_PROXIES", ""))
        ),
        "tls.inc": render_tls(merged),
        "access-log.inc": render_access_log(access_log),
    }
    gateway_conf = out_dir / "gateway.conf"
    upstreams_conf = out_dir / "upstreams.conf"
    for template, target in (
        (TEMPLATE_PATH, gateway_conf),
        (UPSTREAMS_TEMPLATES[mode], upstreams_conf),
    ):
        target.write_text(render(template.read_text(encoding="utf-8"), merged), encoding="utf-8")
    # gateway.conf includes these by paths relative to nginx.conf's folder (out_dir), as
    # the image's nginx.conf in /etc/nginx finds them in /etc/nginx/conf.d.
    (out_dir / "conf.d").mkdir(exist_ok=True)
    for name, text in generated.items():
        (out_dir / "conf.d" / name).write_text(text, encoding="utf-8")

    temp_root = out_dir / "temp"
    for name in TEMP_DIRS:
        (temp_root / name).mkdir(parents=True, exist_ok=True)
    temp_paths = "".join(f"    {name}_temp_path {temp_root / name};\n" for name in TEMP_DIRS)

    nginx_conf = out_dir / "nginx.conf"
    nginx_conf.write_text(
        f"# Written by gateway/render.py ({mode} mode); start with -g 'daemon off;'.\n"
        + _user_directive(out_dir)
        + "worker_processes 1;\n"
        f"pid {out_dir / 'nginx.pid'};\n"
        "error_log stderr;\n"
        "\n"
        "events {\n"
        "    worker_connections 1024;\n"
        "}\n"
        "\n"
        "http {\n"
        f"    include {_mime_types(out_dir)};\n"
        "    default_type application/octet-stream;\n"
        "    access_log off;  # the gateway's server logs JSON lines (conf.d/access-log.inc)\n"
        "    sendfile on;\n"
        f"{temp_paths}"
        f"    include {upstreams_conf};\n"
        f"    include {gateway_conf};\n"
        "}\n",
        encoding="utf-8",
    )
    return nginx_conf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Render the gateway's nginx configuration.",
        epilog="Then: nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'",
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="folder for nginx.conf, gateway.conf, temp files"
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="local",
        help="local: upstream groups with keep-alive (default); compose: names resolved "
        "at request time by GATEWAY_RESOLVER, as in the Docker image",
    )
    args = parser.parse_args(argv)
    try:
        path = write_local_config(args.out, defaults(), mode=args.mode)
    except RenderError as error:
        print(f"render.py: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
