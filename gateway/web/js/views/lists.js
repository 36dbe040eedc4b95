// Genres and directors: the lists, and one page per genre or director with its films.

import { api } from "../api.js";
import { h, fill } from "../dom.js";
import { t, count } from "../i18n.js";
import { href } from "../router.js";
import { emptyState, loading, movieGrid, pageNumber, pager, skeletonGrid } from "./common.js";
import { genreChips } from "./home.js";

export async function genresView(ctx) {
  ctx.title(t("genres.title"));
  loading(ctx.root);
  const genres = await api.genres();
  if (ctx.stale()) return;
  fill(ctx.root,
    h("div", { class: "page-head" }, h("h1", { text: t("genres.title") }), h("p", { class: "muted", text: t("genres.lead") })),
    genreChips(genres.data),
  );
}

export async function directorsView(ctx) {
  ctx.title(t("directors.title"));
  loading(ctx.root);
  const directors = await api.directors();
  if (ctx.stale()) return;
  const list = h("ul", { class: "name-list" });
  const sorted = [...directors.data].sort((a, b) => a.name.localeCompare(b.name, "ru"));
  for (const d of sorted) list.append(h("li", {}, h("a", { href: href(`/directors/${d.id}`), text: d.name })));
  fill(ctx.root,
    h("div", { class: "page-head" }, h("h1", { text: t("directors.title") }), h("p", { class: "muted", text: t("directors.lead") })),
    list,
  );
}

function filmsOf(kind) {
  return async (ctx) => {
    const id = ctx.match[1];
    const page = pageNumber(ctx.params);
    ctx.title(t("loading"));
    skeletonGrid(ctx.root, 8);
    const filter = kind === "genre" ? { genre_id: id } : { director_id: id };
    const [owner, movies] = await Promise.all([
      kind === "genre" ? api.genre(id) : api.director(id),
      api.movies({ ...filter, page }),
    ]);
    if (ctx.stale()) return;
    const name = owner.data.name;
    ctx.title(page > 1 ? `${name}, ${t("pager.page", { page }).toLowerCase()}` : name);
    const total = movies.total ?? movies.data.length;
    const base = kind === "genre" ? `/genres/${id}` : `/directors/${id}`;
    fill(ctx.root,
      h("nav", { class: "crumbs", "aria-label": t("nav.crumbs") },
        h("a", { href: kind === "genre" ? "#/genres" : "#/directors", text: t(kind === "genre" ? "nav.genres" : "nav.directors") })),
      h("div", { class: "page-head" },
        h("p", { class: "kicker", text: t(`${kind}.kicker`) }),
        h("h1", { text: name }),
        h("p", { class: "muted", text: count(total, "film") }),
      ),
      // The cards' titles are h3: this heading keeps the outline in order.
      h("h2", { class: "visually-hidden", text: t("catalog.results") }),
      movies.data.length ? movieGrid(movies.data) : emptyState(t("list.empty")),
      pager(page, total, (p) => href(base, { page: p > 1 ? p : null })),
    );
  };
}

export const genreView = filmsOf("genre");
export const directorView = filmsOf("director");
