"""The one way to the database, for SQLite (the embedded default) and PostgreSQL.

The rule for routes:

- A route that only reads takes the reader (`ReaderDep`) and runs Core statements on
  it, each on its own (readers.py), or several in a row on one connection inside
  `async with reader.together() as reader:`. No session, no transaction.
- A route that writes takes the writer (`WriterDep`) and does its writing in one unit
  of work: `async with writer() as session:`. The unit commits when the block ends and
  rolls back when it raises; on SQLite it begins `IMMEDIATE`, so it waits for the write
  lock before its first statement and never fails on a stale snapshot (engines.py).
  Open it as late as the route allows (after hashing a password or calling another
  service), so that no lock or connection is held while the route waits.
- Repositories take a reader or a session and `flush()`; nothing but the unit of work
  commits (commands outside requests, such as an import, open one with
  `Database.writer()` too). An error that must be answered after a write has been kept
  (a revoked token, say) is raised after the block.
- Two reads use `Database.engine` itself: the catalog's whole list without `page`
  (through `DatabaseDep`), streamed in batches from one cursor, which holds its
  connection for the whole answer; and the catalog cache's version check, once a second.

Modules: `engines` (engines and how SQLite begins), `readers` (the reader and its
SQLite fast path), `database` (`Database` and the dependencies).
"""

from shared.db.database import (
    Database,
    DatabaseDep,
    ReaderDep,
    Writer,
    WriterDep,
    committing,
    get_database,
    get_reader,
    get_writer,
)
from shared.db.engines import create_engine, is_sqlite
from shared.db.readers import (
    ConnectionReader,
    DirectStatement,
    Params,
    Reader,
    Rows,
    SqliteReader,
    reused,
)

# Ids are 32-bit integer columns; a larger number can name no row.
INT32_MAX = 2_147_483_647

__all__ = [
    "INT32_MAX",
    "ConnectionReader",
    "Database",
    "DatabaseDep",
    "DirectStatement",
    "Params",
    "Reader",
    "ReaderDep",
    "Rows",
    "SqliteReader",
    "Writer",
    "WriterDep",
    "committing",
    "create_engine",
    "get_database",
    "get_reader",
    "get_writer",
    "is_sqlite",
    "reused",
]
