// Entry point: the header (navigation, language, account) and the routes.

import { api, isLoggedIn, onAuthChange } from "./api.js";
import { h, fill } from "./dom.js";
import { getLang, onLangChange, setLang, t } from "./i18n.js";
import { current, flash, navigate, render, route, start } from "./router.js";
import { searchBox } from "./search.js";
import catalog from "./views/catalog.js";
import home from "./views/home.js";
import movie from "./views/movie.js";
import { directorView, directorsView, genreView, genresView } from "./views/lists.js";
import {
  bookmarksView, loginView, passwordView, profileView, registerView,
} from "./views/account.js";

route(/^\/$/, home);
route(/^\/movies\/?$/, catalog);
route(/^\/movies\/(\d+)\/?$/, movie);
route(/^\/genres\/?$/, genresView);
route(/^\/genres\/(\d+)\/?$/, genreView);
route(/^\/directors\/?$/, directorsView);
route(/^\/directors\/(\d+)\/?$/, directorView);
route(/^\/register\/?$/, registerView);
route(/^\/login\/?$/, loginView);
route(/^\/profile\/?$/, profileView);
route(/^\/password\/?$/, passwordView);
route(/^\/bookmarks\/?$/, bookmarksView);

const header = document.getElementById("site-header");
const main = document.getElementById("main");
let menuOpen = false;

function navLink(path, label) {
  const here = current().path;
  const active = path === "/" ? here === "/" : here === path || here.startsWith(`${path}/`);
  return h("li", {}, h("a", { class: "nav__link", href: `#${path}`, "aria-current": active ? "page" : null, text: label }));
}

function renderHeader() {
  const loggedIn = isLoggedIn();
  const toggle = h("button", {
    type: "button",
    class: "menu-toggle",
    "aria-expanded": menuOpen ? "true" : "false",
    "aria-controls": "site-nav",
  }, h("span", { class: "menu-toggle__bars", "aria-hidden": "true" }), h("span", { class: "visually-hidden", text: t("nav.menu") }));
  toggle.addEventListener("click", () => {
    menuOpen = !menuOpen;
    renderHeader();
    header.querySelector(".menu-toggle").focus();
  });

  const account = loggedIn
    ? [
        navLink("/bookmarks", t("nav.bookmarks")),
        navLink("/profile", t("nav.profile")),
        h("li", {}, h("button", { type: "button", class: "nav__link nav__button", onclick: logout, text: t("nav.logout") })),
      ]
    : [
        navLink("/login", t("nav.login")),
        h("li", {}, h("a", { class: "button button--primary button--small", href: "#/register", "aria-current": current().path === "/register" ? "page" : null, text: t("nav.register") })),
      ];

  const lang = h("button", {
    type: "button",
    class: "lang",
    lang: getLang() === "ru" ? "en" : "ru",
    "aria-label": t("lang.switchLabel"),
    text: getLang() === "ru" ? "EN" : "RU",
  });
  lang.addEventListener("click", () => setLang(getLang() === "ru" ? "en" : "ru"));

  fill(header,
    h("div", { class: "header__inner wrap" },
      h("a", { class: "brand", href: "#/" },
        h("span", { class: "brand__mark", "aria-hidden": "true", text: "▶" }),
        h("span", { class: "brand__name", text: t("app.name") }),
      ),
      searchBox(),
      toggle,
      h("nav", { id: "site-nav", class: menuOpen ? "nav is-open" : "nav", "aria-label": t("nav.main") },
        h("ul", { class: "nav__list" },
          navLink("/movies", t("nav.catalog")),
          navLink("/genres", t("nav.genres")),
          navLink("/directors", t("nav.directors")),
        ),
        h("ul", { class: "nav__list nav__list--account" }, account, h("li", {}, lang)),
      ),
    ),
  );
}

async function logout() {
  await api.logout();
  flash(t("session.loggedOut"), "info");
  navigate("/");
}

function renderStatic() {
  document.documentElement.lang = getLang();
  document.querySelector(".skip-link").textContent = t("skip");
  document.getElementById("footer-text").textContent = t("footer.text");
}

document.addEventListener("kinoarchive:route", () => {
  menuOpen = false;
  renderHeader();
});
onAuthChange(() => renderHeader());
onLangChange(() => {
  renderStatic();
  renderHeader();
  render({ focus: false });
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && menuOpen) {
    menuOpen = false;
    renderHeader();
    header.querySelector(".menu-toggle").focus();
  }
});

renderStatic();
renderHeader();
start(main);
