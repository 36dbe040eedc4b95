"""SECURITY.md makes no claim without a test: every test it names must exist.

The document names tests as `path/test_file.py::test_name`, or `::test_name` for another
test of the file named just before, with the short prefixes it explains (`auth/` for
`auth-service/tests/`, ...). A renamed or deleted test fails here, so the claim it backed
is rewritten or backed again.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIXES = {
    "auth/": "auth-service/tests/",
    "user/": "user-service/tests/",
    "gateway/": "gateway/tests/",
    "e2e/": "tests-e2e/",
}
# A backticked reference to a test file, a test of it, or a test of the last file named.
REFERENCE = re.compile(r"`((?:[\w.*-]+/)+test_\w+\.py)?(?:::(test_\w+))?`")


def _path(reference: str) -> str:
    for short, long in PREFIXES.items():
        if reference.startswith(short):
            return long + reference[len(short) :]
    return reference


def named_tests(text: str) -> list[tuple[str, str | None]]:
    """(file, test or None) for every reference, `::name` resolved against the last file."""
    found: list[tuple[str, str | None]] = []
    last_file: str | None = None
    for match in REFERENCE.finditer(text):
        file, test = match.groups()
        if file is None and test is None:
            continue
        if file is not None:
            last_file = _path(file)
        assert last_file is not None, f"`::{test}` names no file before it"
        found.append((last_file, test))
    return found


def test_every_test_security_md_names_exists() -> None:
    references = named_tests((ROOT / "SECURITY.md").read_text(encoding="utf-8"))
    assert len(references) > 50  # the parser still reads the document's references
    missing = []
    for file, test in references:
        paths = sorted(ROOT.glob(file)) if "*" in file else [ROOT / file]
        if not paths or not all(path.is_file() for path in paths):
            missing.append(file)
            continue
        if test is not None and not any(
            re.search(rf"^(async )?def {test}\(", path.read_text(encoding="utf-8"), re.M)
            for path in paths
        ):
            missing.append(f"{file}::{test}")
    assert not missing, f"SECURITY.md names tests that do not exist: {missing}"


def test_a_short_reference_follows_the_file_before_it() -> None:
    text = "`auth/test_login.py::test_a`, `::test_b`; then `gateway/test_tls.py`, `::test_c`"
    assert named_tests(text) == [
        ("auth-service/tests/test_login.py", "test_a"),
        ("auth-service/tests/test_login.py", "test_b"),
        ("gateway/tests/test_tls.py", None),
        ("gateway/tests/test_tls.py", "test_c"),
    ]
