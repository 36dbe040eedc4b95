"""The web app's flows, one test each, on a desktop and a phone viewport.

Each test drives the real app in Chromium against the real stack, asserts what a person
would see, and saves var/screenshots/<flow>-<viewport>.png.
"""

import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from browser_support import (
    COOKIE_NAME,
    LEGACY_TOKENS_KEY,
    PASSWORD,
    SESSION_KEY,
    Account,
    new_email,
    register_account,
)

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

try:
    from playwright.sync_api import expect
except ImportError:  # the conftest's fixtures skip (or fail) with the reason
    # Never called then: every test here is skipped before it runs.
    expect = None  # type: ignore[assignment]

NEW_PASSWORD = "новый пароль staple 2"


def open_menu(page: Any, viewport: str) -> None:
    """On a phone the navigation hides behind the menu button."""
    if viewport == "phone":
        toggle = page.get_by_role("button", name=re.compile(r"^(Меню|Menu)$"))
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()


def cards(page: Any) -> Any:
    return page.locator("main .grid .card")


# The web app's address names two filters shorter than the API does.
FILTER_PARAMETERS: dict[str, str] = {"genre": "genre_id", "director": "director_id"}


def expect_list_of_address(page: Any, base_url: str) -> str:
    """Wait until the list on screen is the one the address asks for; its summary.

    Right after the address changes, the previous view is still on screen until the app
    handles the change, so its cards would pass any "visible" check. The count the API
    gives for the address's parameters tells the new list from the old one.
    """
    address: str = page.url
    query = parse_qsl(urlsplit(address).fragment.partition("?")[2])
    params = {FILTER_PARAMETERS.get(name, name): value for name, value in query}
    if params.get("sort") == "new":
        params["status"] = params.pop("sort")
    response = httpx.get(f"{base_url}/movies/", params=params, timeout=15)
    total = response.headers["X-Total-Count"]
    summary = page.locator(".results__summary")
    expect(summary).to_have_text(re.compile(rf"(^|\D){total}(\D|$)"))
    return str(summary.inner_text())


def refresh_cookie(page: Any) -> dict[str, Any] | None:
    """The refresh cookie in the page's browser context (None when there is none)."""
    found = [cookie for cookie in page.context.cookies() if cookie["name"] == COOKIE_NAME]
    assert len(found) <= 1, found
    return found[0] if found else None


def cookie_other_than(page: Any, old: str) -> str:
    """The refresh cookie's value once the browser has stored one other than `old` (the
    answer that rotated it may be in while the cookie store is still being written)."""
    deadline = time.monotonic() + 60  # bounds a hang only
    while (value := assert_session_cookie(page)["value"]) == old:
        assert time.monotonic() < deadline, "the rotated refresh cookie was never stored"
        page.wait_for_timeout(50)
    return str(value)


def session_mark(page: Any) -> str | None:
    mark: str | None = page.evaluate(f"localStorage.getItem('{SESSION_KEY}')")
    return mark


def assert_no_token_in_storage(page: Any) -> None:
    """Nothing a script can read holds a token: every JWT starts with `eyJ` (`{"`)."""
    storage = page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert "eyJ" not in storage, storage
    assert LEGACY_TOKENS_KEY not in storage
    assert COOKIE_NAME not in page.evaluate("document.cookie")


def assert_session_cookie(page: Any) -> dict[str, Any]:
    """The refresh cookie is there, out of scripts' reach, for the auth routes only."""
    cookie = refresh_cookie(page)
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/auth/"
    assert cookie["secure"] is False  # plain HTTP here; Secure over HTTPS (auth tests)
    assert cookie["expires"] > time.time() + 29 * 24 * 3600  # the refresh tokens' lifetime
    return cookie


def api_requests(page: Any, method: str, path: str) -> list[str]:
    seen: list[str] = []
    page.on(
        "request",
        lambda request: (
            seen.append(request.url)
            if request.method == method and re.search(path, request.url)
            else None
        ),
    )
    return seen


def test_browse_and_paginate(page: Any, viewport: str, shot: Any) -> None:
    page.goto("/")
    expect(page).to_have_title("Главная — Киноархив")
    expect(page.get_by_role("heading", level=1, name="Киноархив")).to_be_visible()
    expect(cards(page)).to_have_count(12)
    expect(page.locator(".chips .chip").first).to_be_visible()

    open_menu(page, viewport)
    page.get_by_role("link", name="Каталог", exact=True).click()
    expect(page).to_have_title("Каталог — Киноархив")
    expect(page.get_by_text("Найдено 65 фильмов")).to_be_visible()
    expect(cards(page)).to_have_count(12)
    first_on_page_1 = cards(page).first.locator("h3").inner_text()

    pager = page.get_by_role("navigation", name="Страницы")
    expect(pager.get_by_role("link", name="Страница 6")).to_be_visible()
    pager.get_by_role("link", name="Страница 2").click()
    expect(page).to_have_url(re.compile(r"#/movies\?page=2$"))
    expect(page).to_have_title("Каталог, страница 2 — Киноархив")
    expect(pager.get_by_role("link", name="Страница 2")).to_have_attribute("aria-current", "page")
    expect(cards(page)).to_have_count(12)
    assert cards(page).first.locator("h3").inner_text() != first_on_page_1

    pager.get_by_role("link", name="Вперёд").click()
    expect(page).to_have_url(re.compile(r"page=3$"))
    page.goto("/#/movies?page=6")
    expect(cards(page)).to_have_count(65 - 5 * 12)
    expect(pager.get_by_text("Страница 6 из 6")).to_be_visible()
    shot("browse")

    # English on request, and the choice survives a reload.
    open_menu(page, viewport)
    page.get_by_role("button", name="Switch to English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_title("Catalog, page 6 — Kinoarchive")
    page.reload()
    expect(page.get_by_role("heading", level=1, name="Catalog")).to_be_visible()
    open_menu(page, viewport)
    page.get_by_role("button", name="Переключить на русский").click()
    expect(page.get_by_role("heading", level=1, name="Каталог")).to_be_visible()


def test_filter_and_search(page: Any, viewport: str, shot: Any, base_url: str) -> None:
    page.goto("/#/movies")
    form = page.get_by_role("form", name="Фильтры")
    form.get_by_role("group", name="Жанры").get_by_label("Фантастика").check()
    form.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(re.compile(r"genre=3"))
    expect_list_of_address(page, base_url)
    expect(cards(page).first).to_be_visible()
    for genre in cards(page).locator(".poster__label").all_inner_texts():
        assert genre.casefold() == "фантастика"
    # The page rebuilt from the address: the box is still checked.
    expect(form.get_by_label("Фантастика")).to_be_checked()

    page.goto("/#/movies")
    page.get_by_role("form", name="Фильтры").get_by_label("Название").fill("ДЮНА")
    page.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(re.compile(r"q=%D0%94%D0%AE%D0%9D%D0%90"))
    expect(cards(page).first).to_contain_text("Дюна")
    expect(page.get_by_text(re.compile(r"^Найден(о)? \d+ фильм(а|ов)?$"))).to_be_visible()

    # The search box on the home page leads to the same results.
    page.goto("/")
    page.get_by_label("Поиск фильма по названию").fill("Сталкер")
    page.get_by_label("Поиск фильма по названию").press("Enter")
    expect(page).to_have_title("Каталог — Киноархив")
    expect(cards(page).first).to_contain_text("Сталкер")
    shot("filter")

    # Nothing found: an empty state.
    page.goto("/#/movies?q=zzzz-no-such-film")
    expect(page.get_by_text("Ничего не нашлось")).to_be_visible()
    expect(page.get_by_text("Найдено 0 фильмов", exact=True)).to_be_visible()


def test_api_error_in_the_interface_language(page: Any, viewport: str, shot: Any) -> None:
    """A value the API refuses: the reason chosen by the error's code, in the interface's
    language, never the API's English sentence inside the Russian interface."""
    page.goto("/#/movies?director=abc")
    alert = page.get_by_role("form", name="Фильтры").get_by_role("alert")
    expect(alert).to_contain_text("Проверьте введённые значения.")
    assert not re.search(r"[A-Za-z]{3}", alert.inner_text()), alert.inner_text()
    expect(page.get_by_label("Режиссёр")).to_have_attribute("aria-invalid", "true")
    shot("api-error")

    open_menu(page, viewport)
    page.get_by_role("button", name="Switch to English").click()
    alert = page.get_by_role("form", name="Filters").get_by_role("alert")
    expect(alert).to_contain_text("Please check the values entered.")
    open_menu(page, viewport)
    page.get_by_role("button", name="Переключить на русский").click()
    expect(page.get_by_role("heading", level=1, name="Каталог")).to_be_visible()


def header_search(page: Any) -> Any:
    return page.get_by_role("search").get_by_role("combobox", name="Поиск фильмов")


def test_search_from_the_header(page: Any, viewport: str, shot: Any) -> None:
    """Enter with no suggestion chosen: the catalog with `q` in the address and a count."""
    page.goto("/#/genres")
    box = header_search(page)
    box.fill("Сталкер")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"#/movies\?q=%D0%A1%D1%82%D0%B0%D0%BB%D0%BA%D0%B5%D1%80$"))
    expect(page).to_have_title("Каталог — Киноархив")
    expect(cards(page).first).to_contain_text("Сталкер")
    expect(page.locator(".results__summary")).to_have_text(re.compile(r"^Найден(о)? \d+ фильм"))
    # The box shows the query of the page it is on, and the catalog's form has it too.
    expect(box).to_have_value("Сталкер")
    expect(page.get_by_role("form", name="Фильтры").get_by_label("Название")).to_have_value(
        "Сталкер"
    )
    expect(box).to_have_attribute("aria-expanded", "false")
    shot("search")


# Needs GET /movies/suggest/ (issue 16 §3).
def test_suggestions_from_the_keyboard(page: Any, viewport: str, shot: Any) -> None:
    page.goto("/")
    box = header_search(page)
    expect(box).to_have_attribute("aria-expanded", "false")
    listbox_id = box.get_attribute("aria-controls")
    assert listbox_id
    listbox = page.locator(f"#{listbox_id}")
    expect(listbox).to_have_attribute("role", "listbox")

    box.press_sequentially("интер", delay=40)
    expect(box).to_have_attribute("aria-expanded", "true")
    options = listbox.get_by_role("option")
    expect(options.first).to_be_visible()
    film = options.filter(has_text="Интерстеллар")
    expect(film).to_have_count(1)
    expect(film).to_contain_text("2014")
    expect(film).to_contain_text("Interstellar")  # the original title
    assert options.count() <= 8
    # The live region says how many there are.
    expect(page.get_by_role("search").get_by_role("status")).to_have_text(
        re.compile(r"^\d+ подсказ(ка|ки|ок)$")
    )
    shot("suggest")

    # Escape closes the list; Down opens it again on the first option.
    box.press("Escape")
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(listbox).to_be_hidden()
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-expanded", "true")
    first_id = options.first.get_attribute("id")
    expect(box).to_have_attribute("aria-activedescendant", first_id or "")
    expect(options.first).to_have_attribute("aria-selected", "true")

    # Down until the film is the active option, then Enter opens it.
    titles = [text.split("\n")[0].strip() for text in options.all_inner_texts()]
    for _ in range(titles.index("Интерстеллар")):
        box.press("ArrowDown")
    expect(film).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", film.get_attribute("id") or "")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"#/movies/\d+$"))
    expect(page).to_have_title("Интерстеллар (2014) — Киноархив")
    expect(box).to_have_attribute("aria-expanded", "false")

    # Up from a closed list starts at the last option.
    box.fill("")
    box.press_sequentially("брат", delay=40)
    expect(options.first).to_be_visible()
    box.press("ArrowUp")
    expect(options.last).to_have_attribute("aria-selected", "true")


def card_years(page: Any) -> list[int]:
    texts = cards(page).locator(".card__meta > span:first-child").all_inner_texts()
    return [int(re.match(r"\d{4}", text.strip()).group(0)) for text in texts]  # type: ignore[union-attr]


def card_ratings(page: Any) -> list[float]:
    texts = cards(page).locator(".rating").all_inner_texts()
    return [float(re.findall(r"\d+(?:\.\d+)?", text)[-1]) for text in texts]


# Needs the sort and filter parameters of GET /movies/ (issue 16 §4).
def test_sort_and_filters_in_the_address(
    page: Any, viewport: str, shot: Any, base_url: str
) -> None:
    page.goto("/#/movies")
    form = page.get_by_role("form", name="Фильтры")
    expect(form.get_by_label("Направление")).to_be_disabled()
    form.get_by_label("Порядок").select_option(label="По рейтингу")
    expect(form.get_by_label("Направление")).to_have_value("desc")
    form.get_by_label("Год с").fill("1970")
    form.get_by_label("Год по").fill("1999")
    form.get_by_label("Рейтинг от").fill("8")
    form.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(re.compile(r"sort=-rating"))
    for part in ("year_from=1970", "year_to=1999", "rating_min=8"):
        assert part in page.url, page.url
    summary = expect_list_of_address(page, base_url)
    expect(cards(page).first).to_be_visible()
    ratings = card_ratings(page)
    assert ratings == sorted(ratings, reverse=True), ratings
    assert all(rating >= 8 for rating in ratings), ratings
    assert all(1970 <= year <= 1999 for year in card_years(page))
    first = cards(page).first.locator("h3").inner_text()
    shot("sort")

    # A reload restores the list and the controls from the address.
    page.reload()
    form = page.get_by_role("form", name="Фильтры")
    expect(cards(page).first.locator("h3")).to_have_text(first)
    expect(page.locator(".results__summary")).to_have_text(summary)
    expect(form.get_by_label("Порядок")).to_have_value("rating")
    expect(form.get_by_label("Направление")).to_have_value("desc")
    expect(form.get_by_label("Год с")).to_have_value("1970")
    expect(form.get_by_label("Рейтинг от")).to_have_value("8")

    # Ascending by title, two genres at once; back returns to the previous list.
    form.get_by_label("Порядок").select_option(label="По названию")
    expect(form.get_by_label("Направление")).to_have_value("asc")
    form.get_by_label("Год с").fill("")
    form.get_by_label("Год по").fill("")
    form.get_by_label("Рейтинг от").fill("")
    group = form.get_by_role("group", name="Жанры")
    group.get_by_label("Драма", exact=True).check()
    group.get_by_label("Фантастика", exact=True).check()
    form.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(re.compile(r"sort=title"))
    assert re.search(r"genre=\d+%2C\d+", page.url), page.url
    expect_list_of_address(page, base_url)
    expect(cards(page).first).to_be_visible()
    genres = {g.casefold() for g in cards(page).locator(".poster__label").all_inner_texts()}
    assert genres <= {"драма", "фантастика"}, genres
    page.go_back()
    expect(page).to_have_url(re.compile(r"sort=-rating"))
    expect(cards(page).first.locator("h3")).to_have_text(first)


# Needs the sort parameter of GET /movies/ (issue 16 §4).
def test_pages_keep_the_sort(page: Any, viewport: str) -> None:
    # Page 2 of the catalog by year, newest first.
    page.goto("/#/movies?sort=-year")
    pager = page.get_by_role("navigation", name="Страницы")
    pager.get_by_role("link", name="Страница 2").click()
    expect(page).to_have_url(re.compile(r"sort=-year.*page=2|page=2.*sort=-year"))
    # Page 1 stays on screen until the app handles the new address.
    expect(pager.locator(".pager__summary")).to_have_text(re.compile(r"^Страница 2 из \d+$"))
    expect(cards(page)).to_have_count(12)
    years = card_years(page)
    assert years == sorted(years, reverse=True), years

    # A key the API does not know: its refusal, in the interface's language.
    page.goto("/#/movies?sort=budget")
    alert = page.get_by_role("form", name="Фильтры").get_by_role("alert")
    expect(alert).to_have_text(
        re.compile(r"^(Проверьте введённые значения\.|Такого порядка сортировки нет\.)")
    )
    text = alert.inner_text()
    assert not re.search(r"(?i)unknown|allowed|invalid|input should|must be", text), text


def test_open_film(page: Any, viewport: str, shot: Any) -> None:
    page.goto("/#/movies?q=Сталкер")
    cards(page).first.get_by_role("link", name="Сталкер").click()
    expect(page).to_have_url(re.compile(r"#/movies/\d+$"))
    movie_id = page.url.rsplit("/", 1)[1]
    expect(page).to_have_title("Сталкер (1979) — Киноархив")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Сталкер")
    expect(page.locator(".movie__description")).to_contain_text("Зону")
    trailer = page.get_by_role("link", name="Трейлер на YouTube")
    expect(trailer).to_have_attribute("href", re.compile(r"^https://www\.youtube\.com/"))
    expect(trailer).to_have_attribute("target", "_blank")
    expect(
        page.get_by_role("link", name="Войдите, чтобы добавлять фильмы в закладки")
    ).to_be_visible()
    shot("film")

    page.locator(".facts").get_by_role("link", name="Андрей Тарковский").click()
    expect(page).to_have_title("Андрей Тарковский — Киноархив")
    expect(cards(page).first).to_be_visible()
    page.go_back()
    page.locator(".facts").get_by_role("link", name="Фантастика").click()
    expect(page).to_have_title("Фантастика — Киноархив")
    for genre in cards(page).locator(".poster__label").all_inner_texts():
        assert genre.casefold() == "фантастика"

    # A trailer that is a YouTube video is embedded (privacy-enhanced domain).
    movie_id = page.evaluate("1")

    def with_video(route: Any) -> None:
        movie = route.fetch().json()
        movie["trailer"] = "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=5"
        route.fulfill(json=movie)

    page.route(re.compile(r"/movies/\d+/$"), with_video)
    page.goto(f"/#/movies/{movie_id}")
    frame = page.locator(".trailer iframe")
    expect(frame).to_have_attribute("src", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ")
    expect(frame).to_have_attribute("title", re.compile(r"^Трейлер: "))


def test_register(page: Any, viewport: str, shot: Any, base_url: str) -> None:
    taken = register_account(base_url)
    page.goto("/")
    open_menu(page, viewport)
    page.get_by_role("link", name="Регистрация").click()
    expect(page).to_have_title("Регистрация — Киноархив")

    page.get_by_label("Электронная почта").fill(taken.email)
    page.get_by_label("Пароль", exact=True).fill(PASSWORD)
    page.get_by_label("Повторите пароль").fill(PASSWORD + "x")
    page.get_by_role("button", name="Зарегистрироваться").click()
    expect(page.locator(".field__error:not([hidden])")).to_have_text("Пароли не совпадают.")

    page.get_by_label("Повторите пароль").fill(PASSWORD)
    page.get_by_role("button", name="Зарегистрироваться").click()
    expect(page.get_by_role("alert")).to_have_text("Аккаунт с такой почтой уже есть.")

    email = new_email()
    page.get_by_label("Электронная почта").fill(email)
    page.get_by_role("button", name="Зарегистрироваться").click()
    expect(page).to_have_title("Профиль — Киноархив")
    expect(page.get_by_text("Аккаунт создан. Добро пожаловать!")).to_be_visible()
    expect(page.locator(".profile__email")).to_have_text(email)
    assert_session_cookie(page)
    assert_no_token_in_storage(page)
    shot("register")


def test_login(page: Any, viewport: str, shot: Any, account: Account) -> None:
    page.goto("/#/login")
    expect(page).to_have_title("Вход — Киноархив")
    page.get_by_label("Электронная почта").fill(account.email)
    page.get_by_label("Пароль").fill("not the password")
    page.get_by_role("button", name="Войти").last.click()
    error = page.get_by_role("alert")
    expect(error).to_have_text("Неверная электронная почта или пароль.")
    shot("login")

    page.get_by_label("Пароль").fill(account.password)
    page.get_by_role("button", name="Войти").last.click()
    expect(page).to_have_title("Профиль — Киноархив")
    expect(page.locator(".profile__email")).to_have_text(account.email)
    open_menu(page, viewport)
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    # The refresh token went into the HttpOnly cookie, the access token into memory:
    # nothing a script can read holds either.
    assert_session_cookie(page)
    assert_no_token_in_storage(page)
    assert session_mark(page) is not None

    # A page that needs an account sends a logged-out visitor to log in, then back.
    page.context.clear_cookies()
    page.evaluate("localStorage.clear()")
    page.goto("/favicon.svg")  # leave the app: the access token in its memory goes too
    page.goto("/#/bookmarks")
    expect(page).to_have_url(re.compile(r"#/login\?next=%2Fbookmarks$"))
    expect(page.get_by_text("Войдите, чтобы открыть эту страницу.")).to_be_visible()
    page.get_by_label("Электронная почта").fill(account.email)
    page.get_by_label("Пароль").fill(account.password)
    page.get_by_role("button", name="Войти").last.click()
    expect(page).to_have_title("Мои закладки — Киноархив")


def test_edit_profile(
    page: Any, viewport: str, shot: Any, logged_in: Account, base_url: str
) -> None:
    page.goto("/#/profile")
    expect(page).to_have_title("Профиль — Киноархив")
    expect(page.get_by_label("Имя")).to_have_value("")
    page.get_by_label("Имя").fill("Анна")
    page.get_by_label("Фамилия").fill("Каренина")
    page.get_by_label("Любимый жанр").select_option(label="Мелодрама")
    page.get_by_role("button", name="Сохранить").click()
    expect(page.locator(".form-success")).to_have_text("Профиль сохранён.")
    expect(page.get_by_role("link", name="Фильмы жанра «Мелодрама»")).to_be_visible()

    page.reload()
    expect(page.get_by_label("Имя")).to_have_value("Анна")
    expect(page.get_by_label("Фамилия")).to_have_value("Каренина")
    expect(page.get_by_label("Любимый жанр").locator("option:checked")).to_have_text("Мелодрама")
    expect(page.locator(".profile__name")).to_have_text("Анна Каренина")
    shot("profile")

    headers = {"Authorization": f"Bearer {logged_in.tokens['access_token']}"}
    profile = httpx.get(f"{base_url}/user/", headers=headers, timeout=15).json()
    assert profile["name"] == "Анна"
    assert profile["surname"] == "Каренина"
    assert profile["favourite_genre"] == 6

    # A value the API refuses: its message next to the form, the field marked.
    page.get_by_label("Имя").fill("Я" * 101)
    page.get_by_label("Имя").evaluate("el => el.removeAttribute('maxlength')")
    page.get_by_label("Имя").fill("Я" * 101)
    page.get_by_role("button", name="Сохранить").click()
    expect(page.get_by_role("alert")).to_contain_text("100")
    expect(page.get_by_label("Имя")).to_have_attribute("aria-invalid", "true")


def test_change_password(page: Any, viewport: str, shot: Any, logged_in: Account) -> None:
    page.goto("/#/profile")
    page.get_by_role("link", name="Сменить пароль").click()
    expect(page).to_have_title("Смена пароля — Киноархив")

    page.get_by_label("Текущий пароль").fill("wrong current password")
    page.get_by_label("Новый пароль", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Повторите новый пароль").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Сменить пароль").click()
    expect(page.get_by_role("alert")).to_have_text("Текущий пароль неверен.")

    page.get_by_label("Текущий пароль").fill(logged_in.password)
    page.get_by_role("button", name="Сменить пароль").click()
    expect(page.locator(".form-success")).to_have_text("Пароль изменён.")
    expect(page.get_by_label("Текущий пароль")).to_have_value("")
    shot("password")

    open_menu(page, viewport)
    page.get_by_role("button", name="Выйти").click()
    expect(page).to_have_title("Главная — Киноархив")
    page.goto("/#/login")
    page.get_by_label("Электронная почта").fill(logged_in.email)
    page.get_by_label("Пароль").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Войти").last.click()
    expect(page).to_have_title("Профиль — Киноархив")
    expect(page.locator(".profile__email")).to_have_text(logged_in.email)


def test_bookmark(page: Any, viewport: str, shot: Any, logged_in: Account) -> None:
    page.goto("/#/bookmarks")
    expect(page.get_by_text("Закладок пока нет")).to_be_visible()

    for title in ("Сталкер", "Дюна"):
        page.goto(f"/#/movies?q={title}")
        cards(page).first.get_by_role("link", name=title).click()
        toggle = page.get_by_role("button", name="Добавить в закладки")
        expect(toggle).to_have_attribute("aria-pressed", "false")
        toggle.click()
        expect(page.get_by_role("button", name="В закладках")).to_have_attribute(
            "aria-pressed", "true"
        )

    page.reload()
    expect(page.get_by_role("button", name="В закладках")).to_be_visible()
    open_menu(page, viewport)
    page.get_by_role("link", name="Закладки").click()
    expect(page).to_have_title("Мои закладки — Киноархив")
    expect(cards(page)).to_have_count(2)
    expect(cards(page).first).to_contain_text("Дюна")  # newest bookmark first
    shot("bookmarks")

    # Un-bookmark on the film page, and from the list.
    cards(page).first.get_by_role("link", name="Дюна").click()
    page.get_by_role("button", name="В закладках").click()
    expect(page.get_by_role("button", name="Добавить в закладки")).to_have_attribute(
        "aria-pressed", "false"
    )
    page.goto("/#/bookmarks")
    expect(cards(page)).to_have_count(1)
    page.get_by_role("button", name="Убрать «Сталкер» из закладок").click()
    expect(page.get_by_text("Закладок пока нет")).to_be_visible()


def expire_access_once(page: Any) -> None:
    """The next call to GET /user/ answers 401, as if the access token had expired."""
    pending = [True]

    def answer(route: Any) -> None:
        if route.request.method == "GET" and pending:
            pending.clear()
            route.fulfill(
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
                json={"message": "The token has expired.", "code": "invalid_token"},
            )
        else:
            route.fallback()

    page.route(re.compile(r"/user/$"), answer)


def test_token_refresh(
    page: Any, viewport: str, shot: Any, logged_in: Account, base_url: str
) -> None:
    refreshes = api_requests(page, "PUT", r"/auth/login/$")
    profile_calls = api_requests(page, "GET", r"/user/$")
    page.goto("/#/profile")
    expect(page.locator(".profile__email")).to_have_text(logged_in.email)
    # The access token lives in memory only: the page load got one from the cookie.
    assert len(refreshes) == 1
    assert len(profile_calls) == 1
    loaded = assert_session_cookie(page)["value"]

    # The access token expires: one renewal from the cookie (which rotates), one retry.
    sent: list[str] = []  # the Authorization of each GET /user/ from now on
    page.on(
        "request",
        lambda request: (
            sent.append(request.headers.get("authorization", ""))
            if request.method == "GET" and re.search(r"/user/$", request.url)
            else None
        ),
    )
    expire_access_once(page)
    page.goto("/#/bookmarks")
    with page.expect_response(
        lambda response: (
            response.request.method == "PUT"
            and re.search(r"/auth/login/$", response.url) is not None
        )
    ) as renewal:
        page.goto("/#/profile")
    assert renewal.value.status == 200
    renewal.value.finished()
    expect(page.locator(".profile__email")).to_have_text(logged_in.email)
    assert len(refreshes) == 2  # one renewal
    # The refused call carried the old token and the retry the renewed one. (A second
    # render of the view, when the router sees the navigation twice, may add a call with
    # either token, in either order; with the old one it may fill the page before the
    # retry is even sent, so the retry is waited for, not assumed sent.)
    deadline = time.monotonic() + 60  # bounds a hang only
    while not (renewed_calls := [token for token in sent[1:] if token != sent[0]]):
        assert time.monotonic() < deadline, "no call carried a renewed access token"
        page.wait_for_timeout(50)
    assert all(token.startswith("Bearer ey") for token in renewed_calls)
    renewed = cookie_other_than(page, loaded)
    assert_no_token_in_storage(page)
    shot("refresh")

    # A renewal that fails (the session was ended elsewhere) leads to the login page.
    with httpx.Client(base_url=base_url, timeout=15) as api:
        assert api.post("/auth/logout/", json={"refresh_token": renewed}).status_code == 204
    page.goto("/#/bookmarks")  # the access token itself still works until it expires
    expect(page).to_have_title("Мои закладки — Киноархив")
    expire_access_once(page)
    page.goto("/#/profile")
    expect(page).to_have_title("Вход — Киноархив")
    expect(page.get_by_text("Сессия истекла. Войдите снова.")).to_be_visible()
    assert len(refreshes) == 3
    assert refresh_cookie(page) is None  # the auth service cleared it with its 401
    assert session_mark(page) is None


def test_a_reload_keeps_the_session(page: Any, viewport: str, logged_in: Account) -> None:
    page.goto("/#/profile")
    expect(page.locator(".profile__email")).to_have_text(logged_in.email)
    page.reload()
    expect(page.locator(".profile__email")).to_have_text(logged_in.email)
    open_menu(page, viewport)
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    assert_session_cookie(page)
    assert_no_token_in_storage(page)


def test_tabs_renew_one_at_a_time(page: Any, viewport: str, logged_in: Account) -> None:
    """A refresh token is single use: two tabs that load at once must not both present
    the cookie (the second would end the session). The app renews under a Web Lock."""
    page.goto("/#/")
    expect(page.get_by_role("heading", level=1, name="Киноархив")).to_be_visible()
    # Hold the app's lock here, so that the tabs below queue for it ...
    page.evaluate(
        """() => { window.holding = new Promise((held) => {
            navigator.locks.request("kinoarchive-refresh", () => new Promise((release) => {
                window.release = release;
                held();
            }));
        }); return window.holding; }"""
    )
    tabs = [page.context.new_page() for _ in range(2)]
    for tab in tabs:
        tab.goto("/#/profile")
    # (The predicate must be synchronous: each poll asks for the locks' state and looks
    # at the answer that the previous poll got.)
    page.wait_for_function(
        """() => {
            navigator.locks.query().then((state) => { window.queued = state.pending.length; });
            return window.queued === 2;
        }""",
        polling=50,
    )
    # ... and both go, one after the other, each with the cookie the other left.
    page.evaluate("window.release()")
    for tab in tabs:
        expect(tab.locator(".profile__email")).to_have_text(logged_in.email)
        tab.close()
    page.reload()
    expect(page.locator(".view")).to_be_visible()
    page.goto("/#/profile")
    expect(page.locator(".profile__email")).to_have_text(logged_in.email)


def test_a_pair_stored_by_an_older_version_moves_into_the_cookie(
    page: Any, viewport: str, account: Account, base_url: str
) -> None:
    page.goto("/favicon.svg")
    pair = {k: account.tokens[k] for k in ("access_token", "refresh_token")}
    page.evaluate(
        "([key, value]) => localStorage.setItem(key, JSON.stringify(value))",
        [LEGACY_TOKENS_KEY, pair],
    )
    page.goto("/#/profile")
    expect(page.locator(".profile__email")).to_have_text(account.email)
    assert_session_cookie(page)
    assert_no_token_in_storage(page)
    assert session_mark(page) is not None
    # The stored refresh token was used once, to make the cookie; it is spent.
    with httpx.Client(base_url=base_url, timeout=15) as api:
        spent = api.put("/auth/login/", json={"refresh_token": account.tokens["refresh_token"]})
    assert spent.status_code == 401


def test_logout(page: Any, viewport: str, shot: Any, logged_in: Account, base_url: str) -> None:
    logouts = api_requests(page, "POST", r"/auth/logout/$")
    page.goto("/#/profile")
    expect(page.locator(".profile__email")).to_have_text(logged_in.email)
    last_refresh_token = assert_session_cookie(page)["value"]
    open_menu(page, viewport)
    page.get_by_role("button", name="Выйти").click()
    expect(page).to_have_title("Главная — Киноархив")
    expect(page.get_by_text("Вы вышли из аккаунта.")).to_be_visible()
    assert len(logouts) == 1
    assert refresh_cookie(page) is None  # cleared by the auth service's answer
    assert session_mark(page) is None
    open_menu(page, viewport)
    expect(page.get_by_role("link", name="Войти")).to_be_visible()
    expect(page.get_by_role("button", name="Выйти")).to_have_count(0)
    shot("logout")

    # The session is over on the server: its last refresh token no longer works, and a
    # reload stays signed out.
    with httpx.Client(base_url=base_url, timeout=15) as api:
        response = api.put("/auth/login/", json={"refresh_token": last_refresh_token})
    assert response.status_code == 401
    page.reload()
    open_menu(page, viewport)
    expect(page.get_by_role("link", name="Войти")).to_be_visible()


# --- Another site cannot use the session --------------------------------------------------

# A page on another site: http://localhost:PORT, while the gateway is http://127.0.0.1:PORT
# (a host name and an IP address are different sites). It holds a form that posts a login
# to the gateway, as a login-CSRF page would.
EVIL_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Another site</title></head><body>
<form id="login" method="post" action="{gateway}/auth/login/">
  <input name="email" value="{email}"><input name="password" value="{password}">
  <button id="send" type="submit">send</button>
</form>
</body></html>
"""

# What a script on that page tries: the session's refresh with the browser's cookies
# (with and without the header that asks for cookie mode), a logout by a request that
# needs no preflight, and a login without preflight (`no-cors`, a form body). Each
# result is the answer's status and body as the page could read them, or "blocked".
EVIL_FETCHES = """async ([gateway, email, password]) => {
    const form = new URLSearchParams({email, password});
    const attempts = {
        refresh_in_cookie_mode: [gateway + "/auth/login/", {method: "PUT",
            credentials: "include", headers: {"X-Token-Transport": "cookie"}}],
        refresh_with_cookies: [gateway + "/auth/login/", {method: "PUT",
            credentials: "include"}],
        logout_without_preflight: [gateway + "/auth/logout/", {method: "POST",
            credentials: "include", body: "x"}],
        login_without_preflight: [gateway + "/auth/login/", {method: "POST", mode: "no-cors",
            credentials: "include", body: form}],
    };
    const results = {};
    for (const [name, [url, init]] of Object.entries(attempts)) {
        try {
            const response = await fetch(url, init);
            results[name] = `${response.status} ${await response.text()}`;
        } catch {
            results[name] = "blocked";
        }
    }
    // A JSON API call from another origin, without cookies, is what CORS is for (the
    // course's React app): it works, so the refusals above are not a broken network.
    const api = await fetch(gateway + "/auth/login/", {method: "POST",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify({email, password})});
    results.json_login_without_cookies = `${api.status}`;
    return results;
}"""


@pytest.fixture
def other_site(logged_in: Account, base_url: str) -> Iterator[str]:
    """http://localhost:PORT/, serving EVIL_PAGE aimed at the gateway."""
    page_bytes = EVIL_PAGE.format(
        gateway=base_url, email=logged_in.email, password=logged_in.password
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page_bytes)))
            self.end_headers()
            self.wfile.write(page_bytes)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


def test_another_site_cannot_use_the_session(
    page: Any, viewport: str, logged_in: Account, other_site: str, base_url: str
) -> None:
    page.goto("/#/profile")
    expect(page.locator(".profile__email")).to_have_text(logged_in.email)
    cookie_before = assert_session_cookie(page)["value"]

    evil = page.context.new_page()  # the same browser, the same cookie jar
    evil.goto(other_site)
    results = evil.evaluate(EVIL_FETCHES, [base_url, logged_in.email, logged_in.password])
    assert results.pop("json_login_without_cookies") == "200"
    for name, result in results.items():
        # An opaque answer (no-cors) reads as status 0 with no body.
        assert result in ("blocked", "0 "), (name, result)

    # A form on that page posts a login to the gateway: refused, no token in the answer.
    with evil.expect_response(re.compile(r"/auth/login/$")) as answer:
        evil.locator("#send").click()
    assert answer.value.status == 403
    assert answer.value.json()["code"] == "cross_site_request"
    assert "token" not in answer.value.text()
    evil.close()

    # Nothing reached the session: the cookie was neither used (it would have rotated)
    # nor revoked, and the app still renews with it.
    assert assert_session_cookie(page)["value"] == cookie_before
    page.reload()
    expect(page.locator(".profile__email")).to_have_text(logged_in.email)
    assert assert_session_cookie(page)["value"] != cookie_before


# --- Sessions on the profile page ---------------------------------------------------------


def test_sessions(page: Any, viewport: str, shot: Any, logged_in: Account, base_url: str) -> None:
    """The profile lists the account's sessions: this browser's marked as the current one,
    the others each with a button that ends it, and one button that ends them all."""
    with httpx.Client(base_url=base_url, timeout=15) as api:
        response = api.post(
            "/auth/login/",
            json={"email": logged_in.email, "password": logged_in.password},
            headers={"User-Agent": "KinoPhone/1.0"},
        )
        assert response.status_code == 200, response.text
        phone_pair = response.json()
    page.goto("/#/profile")
    panel = page.get_by_role("region", name="Сеансы")
    items = panel.locator("li[data-session]")
    # The sign-up's own login (a program), this browser, the phone.
    expect(items).to_have_count(3)
    current = items.filter(has_text="Этот сеанс")
    expect(current).to_have_count(1)
    expect(current.get_by_role("button")).to_have_count(0)  # ended with "Выйти" instead
    phone = items.filter(has_text="KinoPhone/1.0")
    expect(phone).to_contain_text("Адрес:")
    shot("sessions")

    phone.get_by_role("button", name="Завершить сеанс: KinoPhone/1.0").click()
    expect(items).to_have_count(2)
    expect(phone).to_have_count(0)
    with httpx.Client(base_url=base_url, timeout=15) as api:
        response = api.put("/auth/login/", json={"refresh_token": phone_pair["refresh_token"]})
    assert response.status_code == 401

    end_others = panel.get_by_role("button", name="Завершить все остальные сеансы")
    end_others.click()
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Этот сеанс")
    expect(end_others).to_be_hidden()
    with httpx.Client(base_url=base_url, timeout=15) as api:
        response = api.put(
            "/auth/login/", json={"refresh_token": logged_in.tokens["refresh_token"]}
        )
    assert response.status_code == 401

    # This browser's session lives on: after a reload it is still the one listed.
    page.reload()
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Этот сеанс")
