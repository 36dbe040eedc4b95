"""`prepare_on_start`: on an empty folder the catalog migrates and seeds itself."""

from pathlib import Path

import httpx

from catalog_service import cli
from catalog_service.config import CatalogSettings
from catalog_service.main import create_app


async def first_page(data_dir: Path, *, prepare: bool) -> httpx.Response:
    app = create_app(
        CatalogSettings(data_dir=data_dir, environment="test", prepare_on_start=prepare)
    )
    async with app.router.lifespan_context(app):
        # The 503 is sent, and the error raised again for the server to log: not to us.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog.test") as client:
            return await client.get("/movies/?page=1")


async def test_an_empty_folder_is_left_alone_without_the_setting(tmp_path: Path) -> None:
    # No schema: a fault of the deployment (its migrate step did not run), not an outage
    # that passes by itself, so a 500 with the traceback in the log.
    assert (await first_page(tmp_path, prepare=False)).status_code == 500


async def test_an_empty_folder_is_migrated_and_seeded_before_serving(tmp_path: Path) -> None:
    seeded = len(cli.seed_catalog().movies)
    response = await first_page(tmp_path, prepare=True)
    assert response.status_code == 200
    assert len(response.json()) == 12
    assert int(response.headers["x-total-count"]) == seeded
    # A second start finds the schema current and the movies there: nothing doubles.
    again = await first_page(tmp_path, prepare=True)
    assert int(again.headers["x-total-count"]) == seeded
