"""scripts/check_licenses.py: the installed runtime closure passes; a closure of made-up
distributions fails on the copyleft one among them and passes without it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import check_licenses  # noqa: E402
from check_licenses import (  # noqa: E402
    Declared,
    Override,
    judge,
    parse_expression,
    runtime_closure,
    satisfiable,
)


def install(site: Path, name: str, *headers: str) -> None:
    """A distribution as pip leaves one: just its .dist-info/METADATA."""
    folder = site / f"{name.replace('-', '_')}-1.0.dist-info"
    folder.mkdir(parents=True)
    lines = ["Metadata-Version: 2.4", f"Name: {name}", "Version: 1.0", *headers]
    (folder / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """Made-up distributions (names no real package has): an app and its dependencies."""
    site = tmp_path / "site"
    install(
        site,
        "kinotest-app",
        "License-Expression: MIT",
        "Requires-Dist: kinotest-permissive",
        "Requires-Dist: kinotest-server[speedups]",
        "Requires-Dist: kinotest-devtool; extra == 'dev'",
    )
    install(site, "kinotest-permissive", "Classifier: License :: OSI Approved :: MIT License")
    install(
        site,
        "kinotest-server",
        "License: BSD-3-Clause",
        "Requires-Dist: kinotest-speedups; extra == 'speedups'",
        "Requires-Dist: kinotest-never; extra == 'other'",
    )
    install(site, "kinotest-speedups", "License-Expression: MPL-2.0")
    # Only the app's `dev` extra and the server's `other` extra ask for these.
    install(site, "kinotest-devtool", "License-Expression: GPL-3.0-only")
    install(site, "kinotest-never", "License-Expression: AGPL-3.0-or-later")
    return site


def run(site: Path, tmp_path: Path, *roots: str) -> int:
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("kinotest-app==1.0\n", encoding="utf-8")
    argv = ["--path", str(site), "--constraints", str(constraints)]
    for root in roots:
        argv += ["--root", root]
    return check_licenses.main(argv)


def test_the_installed_runtime_closure_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_licenses.main([]) == 0, capsys.readouterr().err
    assert "every one compatible with MIT" in capsys.readouterr().out


def test_the_closure_follows_requested_extras_only(site: Path) -> None:
    closure, missing = runtime_closure(["kinotest-app"], [str(site)])
    assert set(closure) == {
        "kinotest-app",
        "kinotest-permissive",
        "kinotest-server",
        "kinotest-speedups",
    }
    assert missing == []


def test_a_permissive_closure_passes(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, tmp_path, "kinotest-app") == 0, capsys.readouterr().err
    assert "licences: 4 packages" in capsys.readouterr().out


def test_a_gpl_dependency_fails_with_its_name(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install(
        site,
        "kinotest-service",
        "License-Expression: MIT",
        "Requires-Dist: kinotest-permissive",
        "Requires-Dist: kinotest-copyleft",
    )
    install(
        site,
        "kinotest-copyleft",
        "License: GPLv3",
        "Classifier: License :: OSI Approved :: GNU General Public License v3 (GPLv3)",
    )
    assert run(site, tmp_path, "kinotest-service") == 1
    err = capsys.readouterr().err
    offenders = [line for line in err.splitlines() if line.startswith("  ")]
    assert len(offenders) == 1, err
    assert offenders[0].startswith("  kinotest-copyleft 1.0:")
    assert "GNU General Public License v3" in offenders[0]


def test_a_missing_dependency_fails(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install(site, "kinotest-broken", "License-Expression: MIT", "Requires-Dist: kinotest-gone")
    assert run(site, tmp_path, "kinotest-broken") == 1
    assert "kinotest-gone: required but not installed here" in capsys.readouterr().err


def test_a_version_other_than_the_pin_fails(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    constraints = tmp_path / "pins.txt"
    constraints.write_text("kinotest_Permissive==2.0\n", encoding="utf-8")
    argv = ["--path", str(site), "--constraints", str(constraints), "--root", "kinotest-app"]
    assert check_licenses.main(argv) == 1
    assert "kinotest-permissive: 1.0 is installed but constraints.txt pins 2.0" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("expression", "allowed"),
    [
        ("MIT", True),
        ("Apache-2.0 OR GPL-2.0-only", True),
        ("(MIT OR GPL-3.0-or-later) AND BSD-2-Clause", True),
        ("Apache-2.0 WITH LLVM-exception", True),
        ("MIT AND PSF-2.0", True),
        ("mit", True),
        ("MIT AND GPL-3.0-only", False),
        ("LGPL-2.1-or-later", False),
        ("AGPL-3.0-only OR SSPL-1.0", False),
        ("LicenseRef-Proprietary", False),
    ],
)
def test_expressions(expression: str, allowed: bool) -> None:
    assert satisfiable(parse_expression(expression)) is allowed


@pytest.mark.parametrize("text", ["MIT AND", "(MIT", "MIT OR )", "MIT License", "WITH X"])
def test_what_is_not_an_expression_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_expression(text)


def declared(
    expression: str | None = None, classifiers: tuple[str, ...] = (), text: str | None = None
) -> Declared:
    return Declared("kinotest", "1.0", expression, classifiers, text)


@pytest.mark.parametrize(
    ("package", "problem"),
    [
        (declared("MIT"), None),
        (declared(text="Apache 2.0"), None),
        (declared(classifiers=("BSD License",)), None),
        # Free prose beside a classifier: the classifier speaks.
        (declared(classifiers=("MIT License",), text="Copyright (c) someone\n..."), None),
        (declared(), "declares no licence"),
        (declared(text="Copyright (c) someone\nAll rights reserved."), "not a licence"),
        (declared(classifiers=("MIT License", "GNU Affero General Public License v3")), "Affero"),
        (declared(classifiers=("MIT License",), text="GPL-2.0-only"), "'GPL-2.0-only'"),
        (declared("GPL-3.0-only", classifiers=("MIT License",)), "License-Expression"),
    ],
)
def test_judging_the_metadata(package: Declared, problem: str | None) -> None:
    found = judge(package, {})
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_an_override_holds_for_its_version_only() -> None:
    overrides = {"kinotest": Override("1.0", "MIT OR Apache-2.0", "read by hand")}
    assert judge(declared(), overrides) is None
    later = Declared("kinotest", "1.1", None, (), None)
    assert "read for version 1.0" in (judge(later, overrides) or "")
    gpl = {"kinotest": Override("1.0", "GPL-2.0-only", "read by hand")}
    assert "override 'GPL-2.0-only' is not allowed" in (judge(declared(), gpl) or "")


def test_every_override_and_allowed_name_is_sound() -> None:
    for name, override in check_licenses.OVERRIDES.items():
        assert override.reason, name
        assert satisfiable(parse_expression(override.expression)), name
    assert set(check_licenses.CLASSIFIERS.values()) <= set(check_licenses.ALLOWED)
