"""What people made survives `make compose-down` and `make compose-up`, and a backup
restores into a fresh volume without an error (README, Deployment: Backups)."""

from pathlib import Path

import httpx
from accounts import Account, login
from compose import Stack
from compose_support import PASSWORD, report, step


def furnish(api: httpx.Client, account: Account) -> dict[str, object]:
    """A profile and two bookmarks; what GET /user/ and the bookmark list then say."""
    changed = api.patch("/user/", json={"name": "Вера", "surname": "Холодная",
                                        "favourite_genre": 1}, headers=account.headers)  # fmt: skip
    assert changed.status_code == 200, changed.text
    for movie in (3, 5):
        added = api.post(f"/favorites/movies/{movie}/", headers=account.headers)
        assert added.status_code == 201, added.text
    return seen(api, account)


def seen(api: httpx.Client, account: Account) -> dict[str, object]:
    fresh = login(api, account.email, PASSWORD)
    assert fresh.status_code == 200, fresh.text
    headers = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    profile = api.get("/user/", headers=headers)
    bookmarks = api.get("/favorites/movies/", headers=headers)
    assert profile.status_code == bookmarks.status_code == 200
    return {"profile": profile.json(), "bookmarks": [m["id"] for m in bookmarks.json()]}


def test_accounts_profiles_and_bookmarks_survive_down_and_up(
    stack: Stack, api: httpx.Client, account: Account
) -> None:
    before = furnish(api, account)
    assert before["bookmarks"] == [5, 3]
    step(stack, "down")
    assert not [c for c in stack.containers() if c.status == "running"]
    step(stack, "up")
    assert seen(api, account) == before
    # The signing key is the env file's: a token issued before the restart still works.
    assert api.get("/user/", headers=account.headers).status_code == 200


def test_backup_restores_into_a_fresh_volume(
    stack: Stack, api: httpx.Client, account: Account, tmp_path: Path
) -> None:
    before = furnish(api, account)
    step(stack, "backup", str(tmp_path))
    step(stack, "down", "--volumes")
    step(stack, "up")
    assert login(api, account.email, PASSWORD).status_code == 401  # a fresh volume indeed
    restored = step(stack, "restore", str(tmp_path))
    # pg_restore says nothing unless something went wrong.
    assert "error" not in restored.stderr.lower(), restored.stderr
    assert seen(api, account) == before
    sizes = {path.name: path.stat().st_size for path in sorted(tmp_path.iterdir())}
    report(f"backup archives (bytes): {sizes}")
