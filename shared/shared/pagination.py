"""Page-number pagination: one dependency and one header builder for every list.

Without `page` a list answers with all its records; with `page` (>= 1) with 12 of them.
Either way the body stays a bare array and the headers carry the rest: `X-Total-Count`
and, for a page, an RFC 8288 `Link` header. A list that can resume a page where the
last one ended (a sorted catalog list) gives the `next` link a `cursor` too; a cursor
belongs to one page, so the other links never carry the request's own.
"""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Query
from starlette.datastructures import URL

PAGE_SIZE = 12


@dataclass(frozen=True, slots=True)
class Page:
    number: int | None  # None: the whole list
    size: int = PAGE_SIZE

    @property
    def offset(self) -> int:
        return 0 if self.number is None else (self.number - 1) * self.size

    @property
    def limit(self) -> int | None:
        return None if self.number is None else self.size

    def is_past(self, total: int) -> bool:
        """True when the page starts beyond the last record (answered with [])."""
        return self.number is not None and self.offset >= total

    def last_number(self, total: int) -> int:
        return max(1, -(-total // self.size))


async def page_params(
    page: Annotated[
        int | None,
        Query(ge=1, description="Page number, 12 records a page; omit it for every record."),
    ] = None,
) -> Page:
    return Page(page)


PageDep = Annotated[Page, Depends(page_params)]


def pagination_headers(
    url: URL, page: Page, total: int, next_cursor: str | None = None
) -> dict[str, str]:
    """`X-Total-Count`, and for a page the `Link` header (`next_cursor` on "next")."""
    headers = {"X-Total-Count": str(total)}
    if page.number is None:
        return headers
    last = page.last_number(total)
    links: list[tuple[int, str]] = [(1, "first")]
    if page.number > 1:
        # Past the end, "prev" leads back to the last page that has records.
        links.append((min(page.number - 1, last), "prev"))
    if page.number < last:
        links.append((page.number + 1, "next"))
    links.append((last, "last"))
    # What `url.include_query_params(page=n)` gives (the other parameters as they came,
    # then `page`), with the query parsed and encoded once rather than once a link.
    pairs = parse_qsl(url.query, keep_blank_values=True)
    query = [*((k, v) for k, v in pairs if k not in ("page", "cursor")), ("page", "")]
    base = f"{url.replace(query='', fragment='')}?{urlencode(query)}"  # ends with "page="
    fragment = f"#{url.fragment}" if url.fragment else ""
    after = {"next": f"&{urlencode({'cursor': next_cursor})}" if next_cursor else ""}
    headers["Link"] = ", ".join(
        f'<{base}{number}{after.get(rel, "")}{fragment}>; rel="{rel}"' for number, rel in links
    )
    return headers


# OpenAPI description of the headers every list answers with.
LIST_RESPONSE_HEADERS = {
    "X-Total-Count": {
        "description": "How many records match, over all pages.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "Link": {
        "description": 'RFC 8288 links (rel="first", "prev", "next", "last") when `page` is given.',
        "schema": {"type": "string"},
    },
}
