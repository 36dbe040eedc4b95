"""Check that every Python package the service images ship may be shipped with MIT code:
`.venv/bin/python scripts/check_licenses.py` (`make check-licenses`).

What is checked is the runtime closure of the four project distributions
(kinoarchive-shared and the three services): their `Requires-Dist`, followed through
every dependency and the extras each one asks for (`uvicorn[standard]`), never the dev
tools. That is what the Dockerfiles install (`pip install -c constraints.txt ./shared
./<service>`), plus the `pip` and `setuptools` that `python -m venv` leaves in the
image's /opt/venv. The versions read are those installed here, which are the ones
constraints.txt pins; a package installed at another version than its pin is reported,
since its licence would then be read from the wrong release.

Each package's licence comes from pip-licenses (`--from=all --format=json`) and is
judged, in this order, by:

  1. OVERRIDES below: a licence read by hand where the metadata is missing or
     ambiguous, tied to the version it was read at;
  2. its `License-Expression` (SPDX, PEP 639) when present: it is the whole answer;
  3. otherwise its licence classifiers (every one must be allowed: several classifiers
     do not say whether they mean "and" or "or") and its free-text `License` field
     (an SPDX expression or a known spelling; free text that is neither is ignored when
     classifiers are present, and is an offender when it is all there is).

An expression passes when it can be satisfied with ALLOWED licences alone: `A OR B`
needs one of them, `A AND B` both; `X WITH exception` is judged as X (an exception only
grants more). Exit status 0 when every package passes, 1 with the list of offenders.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent

# The project's own distributions: every image installs shared and one service.
ROOTS = ("kinoarchive-shared", "kinoarchive-catalog", "kinoarchive-auth", "kinoarchive-user")
# In every image's virtual environment too (put there by `python -m venv`), but pinned by
# nothing: checked when installed here, at whatever version that is.
VENV_TOOLS = ("pip", "setuptools")

# Licences (SPDX identifiers, and the two classifier families that name no version) that
# MIT-licensed code may depend on and ship, and why.
ALLOWED: dict[str, str] = {
    "MIT": "the project's own licence",
    "MIT-0": "MIT without even the notice condition",
    "BSD-2-Clause": "permissive: keep the copyright notice",
    "BSD-3-Clause": "permissive: keep the notice, do not use the authors' names to endorse",
    "BSD": "a classifier that names no variant: every BSD variant is permissive",
    "0BSD": "permissive, no conditions",
    "Apache-2.0": "permissive; keep its NOTICE file; its patent terms bind only its own code",
    "Apache": "a classifier that names no version: Apache 1.1 and 2.0 are both permissive",
    "ISC": "permissive, equivalent to MIT",
    "Zlib": "permissive: do not misrepresent the origin, mark altered versions",
    "HPND": "permissive: keep the notice",
    "PSF-2.0": "the Python Software Foundation licence: permissive",
    "Python-2.0": "the Python licence stack: permissive",
    "Unlicense": "public-domain dedication",
    "CC0-1.0": "public-domain dedication",
    "MPL-2.0": (
        "copyleft at the level of its own files only: changes to those files must be "
        "published under MPL-2.0, but code around them may carry any licence (MPL-2.0 "
        "section 3.3). The images ship such packages unmodified, as pip installs them"
    ),
}

# The last part of a `License :: ...` classifier, as pip-licenses reports it.
CLASSIFIERS: dict[str, str] = {
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "BSD License": "BSD",
    "Apache Software License": "Apache",
    "ISC License (ISCL)": "ISC",
    "zlib/libpng License": "Zlib",
    "Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "Python Software Foundation License": "PSF-2.0",
    "The Unlicense (Unlicense)": "Unlicense",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
}

# Free-text `License` fields seen in the wild that are not SPDX, lower-cased.
TEXT_SPELLINGS: dict[str, str] = {
    "mit license": "MIT",
    "the mit license": "MIT",
    "bsd license": "BSD",
    "new bsd license": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause",
    "apache 2.0": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache software license": "Apache",
    "isc license": "ISC",
    "psf": "PSF-2.0",
    "psf license": "PSF-2.0",
    "mpl 2.0": "MPL-2.0",
}

UNKNOWN = "UNKNOWN"  # pip-licenses' word for a field the metadata lacks


@dataclass(frozen=True)
class Override:
    """A licence read by hand, valid for one version of the package."""

    version: str
    expression: str
    reason: str


# Packages whose metadata does not say their licence plainly. Each entry holds for the
# version it names only: an upgrade must read the licence again and move the version.
OVERRIDES: dict[str, Override] = {
    "uvloop": Override(
        version="0.23.0",
        expression="MIT OR Apache-2.0",
        reason=(
            "the License field says MIT while the classifiers name MIT and Apache; the "
            "wheel ships LICENSE-MIT and LICENSE-APACHE, each granting the whole package"
        ),
    ),
}


# --------------------------------------------------------------------------------------
# SPDX expressions
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Licence:
    id: str


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Node, ...]


Node = Licence | AllOf | AnyOf

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9.:+-]+)")


def parse_expression(text: str) -> Node:
    """Parse an SPDX licence expression; ValueError when it is not one."""
    tokens: list[str] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"not an SPDX expression: {text!r}")
        tokens.append(match.group(1))
        position = match.end()
    if not tokens:
        raise ValueError("empty licence expression")
    node, rest = _parse_or(tokens)
    if rest:
        raise ValueError(f"not an SPDX expression: {text!r}")
    return node


def _parse_joined(
    tokens: list[str],
    word: str,
    operand: Callable[[list[str]], tuple[Node, list[str]]],
    join: Callable[[tuple[Node, ...]], Node],
) -> tuple[Node, list[str]]:
    """One or more operands joined by `word` (OR, AND): a single one stands alone."""
    node, tokens = operand(tokens)
    parts = [node]
    while tokens and tokens[0].upper() == word:
        node, tokens = operand(tokens[1:])
        parts.append(node)
    return (parts[0] if len(parts) == 1 else join(tuple(parts))), tokens


def _parse_or(tokens: list[str]) -> tuple[Node, list[str]]:
    return _parse_joined(tokens, "OR", _parse_and, AnyOf)


def _parse_and(tokens: list[str]) -> tuple[Node, list[str]]:
    return _parse_joined(tokens, "AND", _parse_atom, AllOf)


def _parse_atom(tokens: list[str]) -> tuple[Node, list[str]]:
    if not tokens:
        raise ValueError("licence expression ends too early")
    first, tokens = tokens[0], tokens[1:]
    if first == "(":
        node, tokens = _parse_or(tokens)
        if not tokens or tokens[0] != ")":
            raise ValueError("unbalanced parenthesis in licence expression")
        return node, tokens[1:]
    if first == ")" or first.upper() in {"AND", "OR", "WITH"}:
        raise ValueError(f"unexpected {first!r} in licence expression")
    if tokens and tokens[0].upper() == "WITH":
        if len(tokens) < 2 or tokens[1] in {"(", ")"}:
            raise ValueError("WITH needs an exception")
        tokens = tokens[2:]  # an exception adds permissions: judge the licence alone
    return Licence(first), tokens


def satisfiable(node: Node, allowed: Iterable[str] = ALLOWED) -> bool:
    """Whether the expression can be met with allowed licences alone."""
    permitted = {licence.lower() for licence in allowed}
    if isinstance(node, Licence):
        return node.id.lower() in permitted
    if isinstance(node, AllOf):
        return all(satisfiable(part, permitted) for part in node.parts)
    return any(satisfiable(part, permitted) for part in node.parts)


# --------------------------------------------------------------------------------------
# The runtime closure
# --------------------------------------------------------------------------------------


def runtime_closure(
    roots: Iterable[str], path: Sequence[str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """The installed distributions `roots` need at run time, by canonical name with their
    versions, and the requirements that are not installed. `path` replaces sys.path as
    where distributions are looked for."""
    search = list(path) if path else sys.path
    installed: dict[str, importlib.metadata.Distribution] = {}
    for found in importlib.metadata.distributions(path=search):
        # The first of two with one name is the one `import` would find.
        installed.setdefault(canonicalize_name(found.metadata["Name"]), found)

    pending = [(canonicalize_name(root), frozenset[str]()) for root in roots]
    followed: dict[str, set[str]] = {}  # name: the extras followed ("" for the base)
    missing: list[str] = []
    while pending:
        name, extras = pending.pop()
        distribution = installed.get(name)
        if distribution is None:
            if name not in missing:
                missing.append(name)
            continue
        done = followed.setdefault(name, set())
        todo = ({""} | extras) - done
        done |= todo
        for line in distribution.requires or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None:
                needed = "" in todo
            else:
                needed = any(marker.evaluate({"extra": extra}) for extra in todo)
            if needed:
                pending.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    versions = {name: installed[name].version for name in followed}
    return versions, sorted(missing)


def pinned_versions(constraints: Path) -> dict[str, str]:
    """`name==version` lines of a constraints file, by canonical name."""
    pins: dict[str, str] = {}
    for raw in constraints.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonicalize_name(name.strip())] = version.strip()
    return pins


# --------------------------------------------------------------------------------------
# Licences
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """What a package's metadata says of its licence (None: not said)."""

    name: str
    version: str
    expression: str | None
    classifiers: tuple[str, ...]
    text: str | None


def read_licences(names: Iterable[str], path: Sequence[str] = ()) -> dict[str, Declared]:
    """pip-licenses' report on the installed packages `names`, by canonical name. `path`
    goes before sys.path (PYTHONPATH) in the interpreter pip-licenses runs in."""
    wanted = sorted(names)
    if not wanted:
        return {}
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = os.pathsep.join([*path, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    command = [
        sys.executable,
        "-P",  # nothing from the working directory on sys.path
        "-m",
        "piplicenses",
        "--from=all",
        "--format=json",
        "--with-system",
        "--packages",
        *wanted,
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"pip-licenses failed: {result.stderr.strip()}")
    declared: dict[str, Declared] = {}
    rows: list[dict[str, str]] = json.loads(result.stdout)
    for row in rows:
        name = canonicalize_name(row["Name"])
        classifiers = _said(row, "License-Classifier")
        declared.setdefault(
            name,
            Declared(
                name=name,
                version=row["Version"],
                expression=_said(row, "License-Expression"),
                classifiers=tuple(classifiers.split("; ")) if classifiers else (),
                text=_said(row, "License-Metadata"),
            ),
        )
    return declared


def _said(row: Mapping[str, str], key: str) -> str | None:
    value = row.get(key, UNKNOWN).strip()
    return None if value in {"", UNKNOWN} else value


def read_text_field(text: str) -> Node | None:
    """The free-text `License` field as an expression, or None when it is prose."""
    spelling = TEXT_SPELLINGS.get(" ".join(text.lower().split()))
    if spelling is not None:
        return Licence(spelling)
    if "\n" in text.strip():
        return None
    try:
        return parse_expression(text)
    except ValueError:
        return None


def judge(package: Declared, overrides: Mapping[str, Override] = OVERRIDES) -> str | None:
    """Why the package may not ship with MIT code, or None when it may."""
    override = overrides.get(package.name)
    if override is not None:
        if override.version != package.version:
            return (
                f"its override was read for version {override.version}, and "
                f"{package.version} is installed: read its licence again and update "
                "OVERRIDES"
            )
        return _expression_problem("override", override.expression)
    if package.expression is not None:
        return _expression_problem("License-Expression", package.expression)
    return _declarations_problem(package)


def _expression_problem(what: str, expression: str) -> str | None:
    try:
        node = parse_expression(expression)
    except ValueError:
        return f"{what} {expression!r} is not SPDX"
    return None if satisfiable(node) else f"{what} {expression!r} is not allowed"


def _declarations_problem(package: Declared) -> str | None:
    """The classifiers and the free-text field, for metadata without an expression."""
    problems: list[str] = []
    for classifier in package.classifiers:
        licence = CLASSIFIERS.get(classifier)
        if licence is None or not satisfiable(Licence(licence)):
            problems.append(f"classifier {classifier!r} is not allowed")
    text_node = read_text_field(package.text) if package.text is not None else None
    if text_node is not None and not satisfiable(text_node):
        problems.append(f"License {package.text!r} is not allowed")
    if text_node is None and not package.classifiers:
        if package.text is None:
            problems.append("its metadata declares no licence")
        else:
            start = " ".join(package.text.split())[:60]
            problems.append(f"its License field is not a licence this check knows: {start!r}")
    if problems:
        return "; ".join(problems) + " (read its licence file; add an override if it is fine)"
    return None


# --------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------


def check(
    roots: Sequence[str],
    optional_roots: Sequence[str] = (),
    path: Sequence[str] = (),
    constraints: Path | None = None,
    overrides: Mapping[str, Override] = OVERRIDES,
) -> tuple[dict[str, Declared], list[str]]:
    """The packages checked and the problems found (one line each)."""
    closure, missing = runtime_closure(roots, path or None)
    tools, _ = runtime_closure(optional_roots, path or None)
    problems = [f"{name}: required but not installed here" for name in missing]
    pins = pinned_versions(constraints) if constraints is not None else {}
    for name, version in sorted(closure.items()):
        pin = pins.get(name)
        if pin is not None and pin != version:
            problems.append(
                f"{name}: {version} is installed but constraints.txt pins {pin} "
                "(the images'): run `make bootstrap` first"
            )
    wanted = {**closure, **tools}
    declared = read_licences(wanted, path)
    for name in sorted(wanted):
        package = declared.get(name)
        if package is None:
            problems.append(f"{name}: pip-licenses did not report it")
            continue
        reason = judge(package, overrides)
        if reason is not None:
            problems.append(f"{name} {package.version}: {reason}")
    return declared, problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument(
        "--root",
        action="append",
        help="a distribution whose runtime closure is checked (default: the project's four)",
    )
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        help=(
            "look for the closure in this folder instead of sys.path (for tests: pip-licenses "
            "sees sys.path too, so give the packages there names nothing installed has)"
        ),
    )
    parser.add_argument(
        "--constraints",
        type=Path,
        default=ROOT / "constraints.txt",
        help="the pins the images install with (default: constraints.txt)",
    )
    parser.add_argument("--list", action="store_true", help="print every package checked")
    args = parser.parse_args(argv)

    roots: list[str] = args.root or list(ROOTS)
    optional = () if args.root else VENV_TOOLS
    declared, problems = check(roots, optional, args.path, args.constraints)
    if args.list:
        for package in sorted(declared.values(), key=lambda package: package.name):
            said = package.expression or "; ".join(package.classifiers) or package.text
            print(f"  {package.name} {package.version}: {said or UNKNOWN}")
    if problems:
        print("licences: not every package the images ship is known to suit MIT:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"licences: {len(declared)} packages the images ship, every one compatible with MIT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
