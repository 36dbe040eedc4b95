// The catalog: filters (title, genre, director, year, order) and 12 films a page.
// The filters live in the address (#/movies?genre=3&page=2), so every state has a link.

import { api } from "../api.js";
import { h, clear, fill } from "../dom.js";
import { t, count } from "../i18n.js";
import { href, navigate } from "../router.js";
import {
  busy, clearFormErrors, emptyState, field, formStatus, movieGrid, pageNumber, pager,
  selectField, showFormError, skeletonGrid,
} from "./common.js";

const FILTERS = ["q", "genre", "director", "year", "sort"];

export default async function catalog(ctx) {
  const page = pageNumber(ctx.params);
  const chosen = Object.fromEntries(FILTERS.map((name) => [name, ctx.params.get(name) || ""]));
  ctx.title(page > 1 ? t("catalog.titlePage", { page }) : t("catalog.title"));

  const results = h("div", { class: "results" });
  const summary = h("p", { class: "results__summary", role: "status" });
  const form = h("form", { class: "filters", "aria-label": t("catalog.filters"), novalidate: true });
  fill(ctx.root,
    h("div", { class: "page-head" }, h("h1", { text: t("catalog.title") }), summary),
    form,
    results,
  );
  skeletonGrid(results, 12);

  const [genres, directors] = await Promise.all([api.genres(), api.directors()]);
  if (ctx.stale()) return;
  const any = { value: "", label: t("catalog.any") };
  form.append(
    h("div", { class: "filters__row" },
      field({ label: t("catalog.q"), name: "q", type: "search", value: chosen.q, placeholder: t("catalog.qPlaceholder"), autocomplete: "off" }),
      selectField({ label: t("catalog.genre"), name: "genre_id", value: chosen.genre, options: [any, ...genres.data.map((g) => ({ value: g.id, label: g.name }))] }),
      selectField({ label: t("catalog.director"), name: "director_id", value: chosen.director, options: [any, ...directors.data.map((d) => ({ value: d.id, label: d.name }))] }),
      field({ label: t("catalog.year"), name: "year", value: chosen.year, inputmode: "numeric", placeholder: t("catalog.yearPlaceholder"), autocomplete: "off", maxlength: 4 }),
      selectField({ label: t("catalog.sort"), name: "status", value: chosen.sort, options: [{ value: "", label: t("catalog.sortDefault") }, { value: "new", label: t("catalog.sortNew") }] }),
    ),
    formStatus(),
    h("div", { class: "filters__actions" },
      h("button", { type: "submit", class: "button button--primary", text: t("catalog.apply") }),
      h("a", { class: "button button--ghost", href: "#/movies", text: t("catalog.reset") }),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    navigate("/movies", {
      q: String(data.get("q") || "").trim(),
      genre: data.get("genre_id"),
      director: data.get("director_id"),
      year: String(data.get("year") || "").trim(),
      sort: data.get("status"),
    });
  });

  const done = busy(form);
  let movies;
  try {
    movies = await api.movies({
      page,
      q: chosen.q,
      genre_id: chosen.genre,
      director_id: chosen.director,
      year: chosen.year,
      status: chosen.sort === "new" ? "new" : "",
    });
  } catch (error) {
    if (ctx.stale()) return;
    done();
    if (error.status !== 422) throw error;
    // A filter the API refuses (a year such as "abc"): its message, next to the form.
    clearFormErrors(form);
    showFormError(form, error, { genre_id: "genre_id", director_id: "director_id" });
    clear(results);
    return;
  }
  if (ctx.stale()) return;
  done();
  const total = movies.total ?? movies.data.length;
  summary.textContent = t("catalog.found", { count: count(total, "film") });
  if (!movies.data.length) {
    fill(results, emptyState(t("catalog.empty"), h("a", { class: "button", href: "#/movies", text: t("catalog.reset") })));
    return;
  }
  const link = (p) => href("/movies", { ...chosen, page: p > 1 ? p : null });
  fill(results, movieGrid(movies.data), pager(page, total, link));
}
