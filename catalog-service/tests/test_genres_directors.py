from typing import Any

import httpx
import pytest

from tests.conftest import DIRECTORS, GENRES


@pytest.mark.parametrize(("path", "records"), [("/genres/", GENRES), ("/directors/", DIRECTORS)])
async def test_list_all(
    client: httpx.AsyncClient, path: str, records: list[dict[str, Any]]
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json() == records
    assert response.headers["x-total-count"] == str(len(records))


async def test_pages(client: httpx.AsyncClient) -> None:
    first = await client.get("/genres/?page=1")
    assert first.json() == GENRES  # fewer than 12: one page
    assert 'rel="next"' not in first.headers["link"]
    assert (await client.get("/genres/?page=2")).json() == []
    assert (await client.get("/directors/?page=0")).status_code == 422


@pytest.mark.parametrize(
    ("path", "record"), [("/genres/3/", GENRES[2]), ("/directors/1", DIRECTORS[0])]
)
async def test_detail(client: httpx.AsyncClient, path: str, record: dict[str, Any]) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json() == record


@pytest.mark.parametrize(
    ("path", "message"),
    [("/genres/99/", "There is no genre with this id."),
     ("/directors/0/", "There is no director with this id."),
     ("/genres/99999999999/", "There is no genre with this id.")],
)  # fmt: skip
async def test_unknown_is_404(client: httpx.AsyncClient, path: str, message: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json() == {"message": message, "code": "not_found"}


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/health/ready/")).json() == {"status": "ready"}
