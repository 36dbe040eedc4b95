"""The web app's token transport: the refresh token in an HttpOnly cookie.

API clients (curl, the course's React frontend) get the JSON token pair of the contract,
unchanged. The web app asks for the cookie mode on POST /auth/login/, PUT /auth/login/ and
POST /auth/logout/ with the request header `X-Token-Transport: cookie`. A header rather
than a query parameter or a body field because a cross-origin page cannot send it: an HTML
form sends no headers at all, and `fetch` from another origin must first pass a CORS
preflight, which the gateway refuses for this header (its Access-Control-Allow-Headers
does not list it). It also leaves the contract's body shapes alone and works with an
empty body. Without the header the cookie is never read.

In cookie mode:
- login answers `{access_token, token_type, expires_in}` and sets the refresh cookie;
- refresh takes the refresh token from the cookie (or from the body when it names one,
  which is how the web app moves a pair it kept before into the cookie), rotates it and
  sets the new one;
- logout takes it the same way, revokes its family and clears the cookie;
- every 401 also clears the cookie (a reused, revoked, expired or garbled token).

The cookie: HttpOnly (no script reads it), SameSite=Strict (a browser never sends it with
a request another site starts), Path=/auth/ (only the auth routes see it), Max-Age the
refresh tokens' lifetime, Secure when the request came over HTTPS. The `__Host-` prefix
would add a guarantee (no Domain attribute can widen it) but demands Path=/ and Secure,
so it does not fit a cookie scoped to /auth/ that must also work on plain-HTTP local runs.

CSRF, checked here as well as by SameSite and the header: a cookie-mode request whose
`Sec-Fetch-Site` is `cross-site` or `same-site`, or whose `Origin` is not the service's own
(scheme and Host as the gateway passes them, or one of AUTH_WEB_ORIGINS), is refused 403.
Login and register refuse such requests too when the body is one an HTML form (or a
`fetch` without preflight) can send: urlencoded, multipart or text/plain. JSON from other
origins (CORS, the React frontend) and requests without `Origin` (curl) are not refused.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Cookie, Depends, Header, Request, Response
from pydantic import ValidationError

from auth_service.addresses import trusted_peer
from auth_service.bodies import json_or_form
from auth_service.config import AuthSettings, Origin, parse_origin
from auth_service.deps import SettingsDep, TokensDep
from auth_service.schemas import (
    AccessToken,
    CookieModeBody,
    LogoutRequest,
    RefreshRequest,
    TokenPair,
)
from auth_service.tokens import INVALID_TOKEN_MESSAGE
from shared.errors import Forbidden, Unauthorized

COOKIE_NAME = "kinoarchive_refresh"
COOKIE_PATH = "/auth/"
TRANSPORT_HEADER = "X-Token-Transport"

# Media types a page can send to another origin without a CORS preflight: what HTML forms
# send (enctype), and what `fetch(..., {mode: "no-cors"})` may send.
_SIMPLE_MEDIA_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)
_FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})


class CrossSiteRequest(Forbidden):
    code = "cross_site_request"
    default_message = "This request comes from another site, and this action is refused from there."


class CookieRefused(Unauthorized):
    """A 401 in cookie mode: the same answer, plus a Set-Cookie that clears the cookie."""

    def __init__(self, refused: Unauthorized, clear_cookie: str) -> None:
        super().__init__(refused.message, code=refused.code)
        self.clear_cookie = clear_cookie

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "Set-Cookie": self.clear_cookie}


def _request_is_https(request: Request, settings: AuthSettings) -> bool:
    """HTTPS on the connection itself, or on the client's side of a trusted proxy."""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else None
    if not trusted_peer(peer, settings.trusted_proxy_networks):
        return False
    # The nearest proxy's word: nginx sets one value; a chain appends, the last is ours.
    values = ",".join(request.headers.getlist("x-forwarded-proto")).split(",")
    return values[-1].strip().lower() == "https"


def own_origin(request: Request, settings: AuthSettings) -> Origin | None:
    """The origin the browser reached: the scheme it came over, and its Host header."""
    host = request.headers.get("host", "")
    scheme = "https" if _request_is_https(request, settings) else "http"
    return parse_origin(f"{scheme}://{host}") if host else None


def cross_site(request: Request, settings: AuthSettings) -> bool:
    """Whether a browser says the request comes from another site or origin.

    `Sec-Fetch-Site` (every current browser) names the relation; `Origin` (sent by
    browsers with every POST, PUT and cross-origin request) is compared with ours. A
    request with neither is not a browser's cross-site request (curl, a server).
    """
    fetch_site = request.headers.get("sec-fetch-site", "").strip().lower()
    if fetch_site in _FOREIGN_FETCH_SITES:
        return True
    origin_header = request.headers.get("origin")
    if origin_header is None:
        return False
    origin = parse_origin(origin_header)  # `null` (sandboxed frames, data: URLs) is None
    if origin is None:
        return True
    return origin != own_origin(request, settings) and origin not in settings.web_origin_set


async def refuse_cross_site_forms(request: Request, settings: SettingsDep) -> None:
    """Login and register: a form (or a preflight-free body) from another site is refused,
    JSON never (CORS allows it, without credentials)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in _SIMPLE_MEDIA_TYPES and cross_site(request, settings):
        raise CrossSiteRequest("Forms from other sites cannot log in or register here.")


@dataclass(frozen=True)
class TokenTransport:
    """How this request's tokens travel: the JSON pair, or the refresh token in the cookie."""

    cookie_mode: bool
    cookie: str | None
    secure: bool
    max_age: int

    def _set_cookie(self, response: Response, value: str | None) -> None:
        """Set the cookie to `value` on `response`, or clear it (None)."""
        if value is None:
            response.delete_cookie(
                COOKIE_NAME, path=COOKIE_PATH, secure=self.secure, httponly=True, samesite="strict"
            )
        else:
            response.set_cookie(
                COOKIE_NAME,
                value,
                max_age=self.max_age,
                path=COOKIE_PATH,
                secure=self.secure,
                httponly=True,
                samesite="strict",
            )

    def deliver(self, pair: TokenPair, response: Response) -> TokenPair | AccessToken:
        """The answer to a login or refresh: the pair, or the access token and the cookie."""
        if not self.cookie_mode:
            return pair
        self._set_cookie(response, pair.refresh_token)
        return AccessToken(access_token=pair.access_token, expires_in=pair.expires_in)

    def forget(self, response: Response) -> None:
        """Clear the cookie (cookie mode only)."""
        if self.cookie_mode:
            self._set_cookie(response, None)

    def clearing_header(self) -> str:
        """The Set-Cookie value that clears the cookie (for error answers)."""
        scratch = Response()
        self._set_cookie(scratch, None)
        return scratch.headers["set-cookie"]


async def token_transport(
    request: Request,
    settings: SettingsDep,
    tokens: TokensDep,
    x_token_transport: Annotated[
        Literal["cookie"] | None,
        Header(
            alias=TRANSPORT_HEADER,
            description="`cookie`: the web app's mode, the refresh token in an HttpOnly "
            "cookie instead of the JSON body. Absent: the JSON token pair.",
        ),
    ] = None,
    refresh_cookie: Annotated[
        str | None,
        Cookie(alias=COOKIE_NAME, description="The refresh token, read in cookie mode only."),
    ] = None,
) -> AsyncIterator[TokenTransport]:
    """The request's transport; in cookie mode, a cross-site request is refused (403) and
    any 401 of the route also clears the cookie."""
    cookie_mode = x_token_transport is not None  # the header can only say `cookie`
    if cookie_mode and cross_site(request, settings):
        raise CrossSiteRequest("The web app's session cannot be used from another site.")
    transport = TokenTransport(
        cookie_mode=cookie_mode,
        cookie=refresh_cookie if cookie_mode else None,
        secure=settings.refresh_cookie_secure == "always" or _request_is_https(request, settings),
        max_age=tokens.codec.settings.refresh_ttl_seconds,
    )
    try:
        yield transport
    except Unauthorized as refused:
        if not cookie_mode or isinstance(refused, CookieRefused):
            raise
        raise CookieRefused(refused, transport.clearing_header()) from refused


TransportDep = Annotated[TokenTransport, Depends(token_transport)]

_parse_refresh = json_or_form(RefreshRequest)
_parse_logout = json_or_form(LogoutRequest)
_parse_cookie_mode = json_or_form(CookieModeBody)


async def _cookie_mode_body(request: Request, transport: TokenTransport) -> tuple[str, str | None]:
    """The refresh token (the body's, else the cookie's) and the body's access token."""
    body = await _parse_cookie_mode(request) if await request.body() else CookieModeBody()
    token = body.refresh_token or transport.cookie
    if not token:
        raise Unauthorized("There is no session cookie; log in again.", code="invalid_token")
    return token, body.access_token


async def refresh_request(request: Request, transport: TransportDep) -> RefreshRequest:
    """PUT /auth/login/'s body: as sent, or in cookie mode built from the cookie."""
    if not transport.cookie_mode:
        return await _parse_refresh(request)
    token, access_token = await _cookie_mode_body(request, transport)
    try:
        return RefreshRequest(refresh_token=token, access_token=access_token)
    except ValidationError as exc:  # a cookie too long to be one of our tokens
        raise Unauthorized(INVALID_TOKEN_MESSAGE, code="invalid_token") from exc


async def logout_request(request: Request, transport: TransportDep) -> LogoutRequest:
    """POST /auth/logout/'s body: as sent, or in cookie mode built from the cookie."""
    if not transport.cookie_mode:
        return await _parse_logout(request)
    token, _ = await _cookie_mode_body(request, transport)
    try:
        return LogoutRequest(refresh_token=token)
    except ValidationError as exc:
        raise Unauthorized(INVALID_TOKEN_MESSAGE, code="invalid_token") from exc


RefreshBody = Annotated[RefreshRequest, Depends(refresh_request)]
LogoutBody = Annotated[LogoutRequest, Depends(logout_request)]
CrossSiteForms = Depends(refuse_cross_site_forms)
