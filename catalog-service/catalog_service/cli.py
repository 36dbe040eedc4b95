"""`catalog-service` commands: migrate, seed, import, generate.

    catalog-service migrate [--no-seed]     create or upgrade the schema, and load the
                                            bundled catalog into an empty one
    catalog-service seed [--if-empty]       load the bundled catalog of real films
    catalog-service import FILE [--replace] load a catalog file (ours or the course's)
    catalog-service generate N --out FILE   write a synthetic catalog of N movies

The database is the one the service uses: CATALOG_DATABASE_URL, or the SQLite file in
CATALOG_DATA_DIR.
"""

import asyncio
import json
import sys
from importlib.resources import files
from pathlib import Path

from sqlalchemy import text

from catalog_service import MIGRATIONS
from catalog_service.config import CatalogSettings
from catalog_service.generate import generate_file
from catalog_service.importer import (
    CatalogFile,
    CatalogFileError,
    ImportReport,
    count_movies,
    import_catalog,
    load_file,
    parse_catalog,
)
from shared.cli import service_parser
from shared.db import Database
from shared.migrations import migrate as migrate_schema

SEED = files("catalog_service") / "seed" / "catalog.json"


async def load(
    url: str, catalog: CatalogFile, *, replace: bool, if_empty: bool
) -> ImportReport | None:
    database = Database(url, pool_size=1)
    try:
        report = await load_into(database, catalog, replace=replace, if_empty=if_empty)
        if report is not None and report.changed:
            await vacuum(database)
        return report
    finally:
        await database.dispose()


async def vacuum(database: Database) -> None:
    """On PostgreSQL, VACUUM the tables an import rewrites, once it has committed (VACUUM
    cannot run in a transaction). Until the next autovacuum, the visibility map would be
    unset, and each index-only scan would read the table too."""
    if database.engine.dialect.name != "postgresql":
        return
    async with database.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        tables = "genres, directors, movies, movie_positions, search_movies, search_words"
        await autocommit.execute(text(f"VACUUM {tables}"))


async def load_into(
    database: Database, catalog: CatalogFile, *, replace: bool, if_empty: bool
) -> ImportReport | None:
    """Import `catalog` in one transaction; None when `if_empty` and there are movies."""
    async with database.writer() as session:
        if if_empty and await count_movies(session) > 0:
            return None
        return await import_catalog(session, catalog, replace=replace)


def seed_catalog() -> CatalogFile:
    return parse_catalog(json.loads(SEED.read_text(encoding="utf-8")), source="bundled seed")


async def migrate(url: str, *, seed: bool = True) -> str:
    """The catalog's one migrate entry point: the schema to its newest revision and, with
    `seed`, the bundled films into a catalog that has no movies. Compose's
    `catalog-migrate` job, the service itself under `make run` (CATALOG_PREPARE_ON_START)
    and the tests (without the seed) all call it."""
    done = "catalog: " + await migrate_schema(MIGRATIONS, url)
    if not seed:
        return done
    report = await load(url, seed_catalog(), replace=False, if_empty=True)
    if report is None:
        return done + "; the catalog has movies, nothing seeded"
    return done + "; seeded the empty catalog: " + "; ".join(str(report).splitlines())


def main(argv: list[str] | None = None) -> int:
    parser, commands = service_parser("catalog-service", "CATALOG", __doc__)
    seed = commands.add_parser("seed", help="load the bundled catalog of real films")
    seed.add_argument("--if-empty", action="store_true", help="only when there are no movies yet")
    imp = commands.add_parser("import", help="load a catalog file (ids as `id` or `pk`)")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--replace", action="store_true", help="also delete the records the file does not name"
    )
    gen = commands.add_parser("generate", help="write a synthetic catalog file")
    gen.add_argument("movies", type=int)
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--directors", type=int, default=2000)
    gen.add_argument("--seed", type=int, default=1)
    commands.choices["migrate"].add_argument(
        "--no-seed", action="store_true", help="leave an empty catalog empty"
    )
    args = parser.parse_args(argv)

    if args.command == "generate":
        if args.movies < 0:
            parser.error("the number of movies cannot be negative")
        generate_file(args.out, args.movies, directors=args.directors, seed=args.seed)
        print(f"wrote {args.movies} movies to {args.out}")
        return 0

    url = args.database_url or CatalogSettings().database_url
    if args.command == "migrate":
        print(asyncio.run(migrate(url, seed=not args.no_seed)))
        return 0
    try:
        if args.command == "seed":
            catalog, replace, if_empty = seed_catalog(), False, args.if_empty
        else:
            catalog, replace, if_empty = load_file(args.file), args.replace, False
    except CatalogFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(asyncio.run(migrate(url, seed=False)))
    try:
        report = asyncio.run(load(url, catalog, replace=replace, if_empty=if_empty))
    except CatalogFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if report is None:
        print("the catalog already has movies; nothing seeded")
    else:
        print(report)
    return 0
