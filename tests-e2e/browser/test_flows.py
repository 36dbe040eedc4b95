"""The web app's flows, one test each, on a desktop and a phone viewport.

Each test drives the real app in Chromium against the real stack, asserts what a person
would see, and saves var/screenshots/<flow>-<viewport>.png.
"""

import json
import re
from typing import Any

import httpx
import pytest
from browser_support import PASSWORD, TOKENS_KEY, Account, new_email, register_account

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

try:
    from playwright.sync_api import expect
except ImportError:  # the conftest's fixtures skip (or fail) with the reason
    expect = None

NEW_PASSWORD = "новый пароль staple 2"


def open_menu(page: Any, viewport: str) -> None:
    """On a phone the navigation hides behind the menu button."""
    if viewport == "phone":
        toggle = page.get_by_role("button", name=re.compile(r"^(Меню|Menu)$"))
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()


def cards(page: Any) -> Any:
    return page.locator("main .grid .card")


def stored_tokens(page: Any) -> dict[str, str] | None:
    raw = page.evaluate(f"localStorage.getItem('{TOKENS_KEY}')")
    return json.loads(raw) if raw else None


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
    expect(page.get_by_text("Найдено: 65 фильмов")).to_be_visible()
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


def test_filter_and_search(page: Any, viewport: str, shot: Any) -> None:
    page.goto("/#/movies")
    form = page.get_by_role("form", name="Фильтры")
    form.get_by_label("Жанр").select_option(label="Фантастика")
    form.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(re.compile(r"genre=3"))
    expect(cards(page).first).to_be_visible()
    for genre in cards(page).locator(".poster__label").all_inner_texts():
        assert genre.casefold() == "фантастика"

    form.get_by_label("Жанр").select_option(label="Любой")
    form.get_by_label("Режиссёр").select_option(label="Андрей Тарковский")
    form.get_by_label("Год").fill("1979")
    form.get_by_role("button", name="Показать").click()
    expect(cards(page)).to_have_count(1)
    expect(cards(page).first).to_contain_text("Сталкер")

    page.goto("/#/movies")
    page.get_by_role("form", name="Фильтры").get_by_label("Название").fill("ДЮНА")
    page.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(re.compile(r"q=%D0%94%D0%AE%D0%9D%D0%90"))
    expect(cards(page)).to_have_count(1)
    expect(cards(page).first).to_contain_text("Дюна")
    expect(page.get_by_text("Найдено: 1 фильм", exact=True)).to_be_visible()

    # The search box on the home page leads to the same results.
    page.goto("/")
    page.get_by_label("Поиск фильма по названию").fill("Сталкер")
    page.get_by_label("Поиск фильма по названию").press("Enter")
    expect(page).to_have_title("Каталог — Киноархив")
    expect(cards(page)).to_have_count(1)
    shot("filter")

    # Nothing found: an empty state; a year the API refuses: its message by the form.
    page.goto("/#/movies?q=zzzz-no-such-film")
    expect(page.get_by_text("Ничего не нашлось")).to_be_visible()
    page.goto("/#/movies?year=abc")
    expect(page.locator("form .form-error")).to_contain_text("year")
    expect(page.get_by_label("Год")).to_have_attribute("aria-invalid", "true")


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
    expect(page.get_by_role("alert")).to_have_text("An account with this email already exists.")

    email = new_email()
    page.get_by_label("Электронная почта").fill(email)
    page.get_by_role("button", name="Зарегистрироваться").click()
    expect(page).to_have_title("Профиль — Киноархив")
    expect(page.get_by_text("Аккаунт создан. Добро пожаловать!")).to_be_visible()
    expect(page.locator(".profile__email")).to_have_text(email)
    assert stored_tokens(page) is not None
    shot("register")


def test_login(page: Any, viewport: str, shot: Any, account: Account) -> None:
    page.goto("/#/login")
    expect(page).to_have_title("Вход — Киноархив")
    page.get_by_label("Электронная почта").fill(account.email)
    page.get_by_label("Пароль").fill("not the password")
    page.get_by_role("button", name="Войти").last.click()
    error = page.get_by_role("alert")
    expect(error).to_have_text("The email or the password is wrong.")
    shot("login")

    page.get_by_label("Пароль").fill(account.password)
    page.get_by_role("button", name="Войти").last.click()
    expect(page).to_have_title("Профиль — Киноархив")
    expect(page.locator(".profile__email")).to_have_text(account.email)
    open_menu(page, viewport)
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()

    # A page that needs an account sends a logged-out visitor to log in, then back.
    page.evaluate(f"localStorage.removeItem('{TOKENS_KEY}')")
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

    headers = {"Authorization": f"Bearer {stored_tokens(page)['access_token']}"}  # type: ignore[index]
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
    expect(page.get_by_role("alert")).to_have_text("The current password is wrong.")

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


def test_token_refresh(page: Any, viewport: str, shot: Any, logged_in: Account) -> None:
    refreshes = api_requests(page, "PUT", r"/auth/login/$")
    profile_calls = api_requests(page, "GET", r"/user/$")
    tokens = stored_tokens(page)
    assert tokens is not None
    tokens["access_token"] = "expired-or-garbage"
    page.evaluate(
        "([key, value]) => localStorage.setItem(key, value)", [TOKENS_KEY, json.dumps(tokens)]
    )

    page.goto("/#/profile")
    expect(page).to_have_title("Профиль — Киноархив")
    expect(page.locator(".profile__email")).to_have_text(logged_in.email)
    assert len(refreshes) == 1
    assert len(profile_calls) == 2  # the 401, then the retry with the new token
    renewed = stored_tokens(page)
    assert renewed is not None
    assert renewed["access_token"] != "expired-or-garbage"
    assert renewed["refresh_token"] != logged_in.tokens["refresh_token"]
    shot("refresh")

    # A refresh that fails (the refresh token is revoked too) leads to the login page.
    page.evaluate(
        "([key, value]) => localStorage.setItem(key, value)",
        [TOKENS_KEY, json.dumps({"access_token": "x", "refresh_token": "revoked"})],
    )
    page.goto("/#/bookmarks")
    expect(page).to_have_title("Вход — Киноархив")
    expect(page.get_by_text("Сессия истекла. Войдите снова.")).to_be_visible()
    assert len(refreshes) == 2
    assert stored_tokens(page) is None


def test_logout(page: Any, viewport: str, shot: Any, logged_in: Account) -> None:
    logouts = api_requests(page, "POST", r"/auth/logout/$")
    page.goto("/#/profile")
    expect(page.locator(".profile__email")).to_have_text(logged_in.email)
    open_menu(page, viewport)
    page.get_by_role("button", name="Выйти").click()
    expect(page).to_have_title("Главная — Киноархив")
    expect(page.get_by_text("Вы вышли из аккаунта.")).to_be_visible()
    assert stored_tokens(page) is None
    assert len(logouts) == 1
    open_menu(page, viewport)
    expect(page.get_by_role("link", name="Войти")).to_be_visible()
    expect(page.get_by_role("button", name="Выйти")).to_have_count(0)
    shot("logout")

    # The refresh token is revoked: putting it back does not bring the session back.
    page.evaluate(
        "([key, value]) => localStorage.setItem(key, value)",
        [
            TOKENS_KEY,
            json.dumps({k: logged_in.tokens[k] for k in ("access_token", "refresh_token")}),
        ],
    )
    with httpx.Client(timeout=15) as client:
        response = client.put(
            page.url.split("#")[0] + "auth/login/",
            json={"refresh_token": logged_in.tokens["refresh_token"]},
        )
    assert response.status_code == 401
