// A film: details, the trailer (embedded when the link is a YouTube video), a bookmark toggle.

import { api, isLoggedIn, AuthRequired } from "../api.js";
import { h, clear, fill, safeUrl } from "../dom.js";
import { t } from "../i18n.js";
import { href, loginRedirect, current } from "../router.js";
import { announce, errorText, loading, poster, rating } from "./common.js";

const VIDEO_ID = /^[A-Za-z0-9_-]{11}$/;

// The embeddable address of a YouTube video link, or null for anything else
// (a search link, another site, garbage).
export function youtubeEmbed(link) {
  const url = safeUrl(link);
  if (!url) return null;
  const { hostname, pathname, searchParams } = new URL(url);
  const host = hostname.replace(/^(www\.|m\.)/, "");
  let id = null;
  if (host === "youtu.be") id = pathname.slice(1).split("/")[0];
  else if (host === "youtube.com" || host === "youtube-nocookie.com") {
    if (pathname === "/watch") id = searchParams.get("v");
    else {
      const m = pathname.match(/^\/(?:embed|shorts|live)\/([^/]+)/);
      id = m ? m[1] : null;
    }
  }
  return id && VIDEO_ID.test(id) ? `https://www.youtube-nocookie.com/embed/${id}` : null;
}

function trailer(movie) {
  const embed = youtubeEmbed(movie.trailer);
  if (embed) {
    return h("div", { class: "trailer" },
      h("iframe", {
        src: embed,
        title: t("movie.trailerFrame", { title: movie.title }),
        loading: "lazy",
        allow: "encrypted-media; picture-in-picture; fullscreen",
        allowfullscreen: true,
        referrerpolicy: "strict-origin-when-cross-origin",
      }),
    );
  }
  const url = safeUrl(movie.trailer);
  if (url) {
    return h("a", { class: "button button--ghost trailer-link", href: url, target: "_blank", rel: "noopener noreferrer" },
      h("span", { "aria-hidden": "true", text: "▶ " }), t("movie.trailerLink"));
  }
  return h("p", { class: "muted", text: t("movie.noTrailer") });
}

function bookmarkButton(movie, initiallyOn) {
  let on = initiallyOn;
  const label = h("span");
  const icon = h("span", { class: "bookmark__icon", "aria-hidden": "true" });
  const button = h("button", { type: "button", class: "button bookmark" }, icon, label);
  const message = h("p", { class: "bookmark__message", "aria-live": "polite" });
  const paint = () => {
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.classList.toggle("is-on", on);
    icon.textContent = on ? "★" : "☆";
    label.textContent = on ? t("movie.bookmarked") : t("movie.bookmark");
  };
  paint();
  button.addEventListener("click", async () => {
    button.disabled = true;
    clear(message);
    message.classList.remove("form-error");
    try {
      if (on) await api.removeBookmark(movie.id);
      else await api.addBookmark(movie.id);
      on = !on;
      paint();
      announce(on ? t("movie.bookmarkAdded") : t("movie.bookmarkRemoved"));
    } catch (error) {
      if (error instanceof AuthRequired) {
        loginRedirect(error.expired);
        return;
      }
      message.classList.add("form-error");
      message.textContent = errorText(error);
    } finally {
      button.disabled = false;
    }
  });
  return h("div", { class: "bookmark-box" }, button, message);
}

export default async function movieView(ctx) {
  const id = ctx.match[1];
  ctx.title(t("loading"));
  loading(ctx.root);
  const loggedIn = isLoggedIn();
  const [movieResponse, bookmarks] = await Promise.all([
    api.movie(id),
    loggedIn ? api.bookmarks() : Promise.resolve(null),
  ]);
  if (ctx.stale()) return;
  const movie = movieResponse.data;
  const bookmarked = Boolean(bookmarks && bookmarks.data.some((m) => m.id === movie.id));
  ctx.title(movie.year ? `${movie.title} (${movie.year})` : movie.title);

  const facts = h("dl", { class: "facts" });
  const fact = (name, value) => facts.append(h("div", { class: "facts__item" }, h("dt", { text: name }), h("dd", {}, value)));
  if (movie.year) fact(t("movie.year"), h("a", { href: href("/movies", { year: movie.year }), text: String(movie.year) }));
  if (movie.genre) fact(t("movie.genre"), h("a", { href: href(`/genres/${movie.genre.id}`), text: movie.genre.name }));
  if (movie.director) fact(t("movie.director"), h("a", { href: href(`/directors/${movie.director.id}`), text: movie.director.name }));

  const action = isLoggedIn()
    ? bookmarkButton(movie, bookmarked)
    : h("a", { class: "button", href: href("/login", { next: current().full }) },
        h("span", { "aria-hidden": "true", text: "☆ " }), t("movie.loginToBookmark"));

  const crumbs = h("nav", { class: "crumbs", "aria-label": "breadcrumbs" },
    h("a", { href: "#/movies", text: t("nav.catalog") }),
    h("span", { "aria-hidden": "true", text: " / " }),
    movie.genre ? h("a", { href: href(`/genres/${movie.genre.id}`), text: movie.genre.name }) : null,
  );

  fill(ctx.root,
    crumbs,
    h("article", { class: "movie" },
      h("div", { class: "movie__poster" }, poster(movie, "large")),
      h("div", { class: "movie__main" },
        h("h1", { class: "movie__title" }, movie.title, movie.year ? h("span", { class: "movie__year", text: ` (${movie.year})` }) : null),
        h("div", { class: "movie__badges" }, rating(movie)),
        facts,
        h("p", { class: "movie__description", text: movie.description || t("movie.noDescription") }),
        action,
        h("section", { class: "movie__trailer", "aria-labelledby": "movie-trailer" },
          h("h2", { id: "movie-trailer", text: t("movie.trailer") }),
          trailer(movie),
        ),
      ),
    ),
  );
}
