import { api } from "../api.js";
import { h, fill } from "../dom.js";
import { t, count } from "../i18n.js";
import { href, navigate } from "../router.js";
import { movieGrid, skeletonGrid, emptyState } from "./common.js";

export default async function home(ctx) {
  ctx.title(t("home.title"));
  const search = h("input", {
    id: "home-q", name: "q", type: "search", placeholder: t("home.searchPlaceholder"), autocomplete: "off",
  });
  const form = h("form", { class: "search", role: "search" },
    h("label", { for: "home-q", class: "visually-hidden", text: t("home.searchLabel") }),
    search,
    h("button", { type: "submit", class: "button button--primary", text: t("home.search") }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("/movies", { q: search.value.trim() });
  });
  const stats = h("p", { class: "hero__stats" });
  const newest = h("div");
  const genres = h("div");
  fill(ctx.root,
    h("section", { class: "hero" },
      h("h1", { class: "hero__title", text: t("app.name") }),
      h("p", { class: "hero__lead", text: t("home.lead") }),
      form,
      stats,
    ),
    h("section", { class: "section", "aria-labelledby": "home-newest" },
      h("div", { class: "section__head" },
        h("h2", { id: "home-newest", text: t("home.newest") }),
        h("a", { class: "section__more", href: "#/movies" }, t("home.allMovies"), h("span", { "aria-hidden": "true", text: " →" })),
      ),
      newest,
    ),
    h("section", { class: "section", "aria-labelledby": "home-genres" },
      h("h2", { id: "home-genres", text: t("home.genres") }),
      genres,
    ),
  );
  skeletonGrid(newest, 12);
  const [movies, genreList] = await Promise.all([
    api.movies({ status: "new", page: 1 }),
    api.genres(),
  ]);
  if (ctx.stale()) return;
  stats.textContent = t("home.stats", {
    movies: count(movies.total ?? movies.data.length, "film"),
    genres: count(genreList.data.length, "genre"),
  });
  fill(newest, movies.data.length ? movieGrid(movies.data) : emptyState(t("list.empty")));
  fill(genres, genreChips(genreList.data));
}

export function genreChips(genres) {
  const list = h("ul", { class: "chips" });
  for (const genre of genres) {
    list.append(h("li", {}, h("a", { class: "chip", href: href(`/genres/${genre.id}`), text: genre.name })));
  }
  return list;
}
