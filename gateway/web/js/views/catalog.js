// The catalog: search, sort and filters, and 12 films a page.
// Every choice lives in the address (#/movies?q=…&sort=-rating&genre=3,5&year_from=1970
// &year_to=1989&rating_min=8&director=2&page=2), so a reload, back and forward and a
// shared link all restore it. `sort` is the API's own syntax (a key, `-` for descending)
// or `new` (the API's status=new); without it a search comes best match first.

import { api } from "../api.js";
import { h, clear, fill } from "../dom.js";
import { t, phrase } from "../i18n.js";
import { href, navigate } from "../router.js";
import {
  busy, clearFormErrors, emptyState, field, formStatus, movieGrid, pageNumber, pager,
  selectField, showFormError, skeletonGrid,
} from "./common.js";

// The address's parameters, in the order they are written.
const FILTERS = ["q", "sort", "genre", "director", "year_from", "year_to", "rating_min"];
const SORT_KEYS = ["rating", "year", "title"];
// The natural direction of each key: the best, the newest, A to Z.
const ASCENDING_BY_DEFAULT = new Set(["title"]);

function chosenFilters(params) {
  const chosen = Object.fromEntries(FILTERS.map((name) => [name, (params.get(name) || "").trim()]));
  // A link from before the year range (year=1979) means that one year.
  const year = (params.get("year") || "").trim();
  if (year && !chosen.year_from && !chosen.year_to) {
    chosen.year_from = year;
    chosen.year_to = year;
  }
  return chosen;
}

function splitSort(sort) {
  if (sort === "new" || sort === "relevance") return { key: sort === "new" ? "new" : "", descending: true };
  const descending = sort.startsWith("-");
  const key = sort.replace(/^-/, "");
  return { key, descending };
}

function sortControls(chosen) {
  const { key, descending } = splitSort(chosen.sort);
  const sortField = selectField({
    label: t("catalog.sort"),
    name: "sort_key",
    value: key,
    options: [
      { value: "", label: chosen.q ? t("catalog.sortRelevance") : t("catalog.sortDefault") },
      { value: "rating", label: t("catalog.sortRating") },
      { value: "year", label: t("catalog.sortYear") },
      { value: "title", label: t("catalog.sortTitle") },
      { value: "new", label: t("catalog.sortNew") },
    ],
  });
  const directionField = selectField({
    label: t("catalog.direction"),
    name: "direction",
    value: SORT_KEYS.includes(key) ? (descending ? "desc" : "asc") : "desc",
    options: [{ value: "desc", label: t("catalog.desc") }, { value: "asc", label: t("catalog.asc") }],
  });
  const keySelect = sortField.querySelector("select");
  const directionSelect = directionField.querySelector("select");
  const sync = () => {
    directionSelect.disabled = !SORT_KEYS.includes(keySelect.value);
  };
  keySelect.addEventListener("change", () => {
    directionSelect.value = ASCENDING_BY_DEFAULT.has(keySelect.value) ? "asc" : "desc";
    sync();
  });
  sync();
  return [sortField, directionField];
}

function genreChoices(genres, chosen) {
  const picked = new Set(chosen.genre.split(",").filter(Boolean));
  const list = h("ul", { class: "filters__genre-list" });
  for (const genre of genres) {
    const box = h("input", { type: "checkbox", name: "genre_id", value: String(genre.id) });
    box.checked = picked.has(String(genre.id));
    list.append(h("li", {}, h("label", {}, box, genre.name)));
  }
  return h("fieldset", { class: "filters__genres" }, h("legend", { text: t("catalog.genres") }), list);
}

function readForm(form) {
  const data = new FormData(form);
  const text = (name) => String(data.get(name) || "").trim();
  const key = text("sort_key");
  let sort = key;
  if (SORT_KEYS.includes(key) && text("direction") === "desc") sort = `-${key}`;
  return {
    q: text("q"),
    sort,
    genre: data.getAll("genre_id").join(","),
    director: text("director_id"),
    year_from: text("year_from"),
    year_to: text("year_to"),
    rating_min: text("rating_min"),
  };
}

export default async function catalog(ctx) {
  const page = pageNumber(ctx.params);
  const chosen = chosenFilters(ctx.params);
  ctx.title(page > 1 ? t("catalog.titlePage", { page }) : t("catalog.title"));

  const results = h("div", { class: "results" });
  const summary = h("p", { class: "results__summary", role: "status" });
  const form = h("form", { class: "filters", "aria-label": t("catalog.filters"), novalidate: true });
  fill(ctx.root,
    h("div", { class: "page-head" }, h("h1", { text: t("catalog.title") }), summary),
    form,
    // The cards' titles are h3: this heading keeps the outline in order (h1, h2, h3).
    h("h2", { class: "visually-hidden", text: chosen.q ? t("catalog.searchResults", { q: chosen.q }) : t("catalog.results") }),
    results,
  );
  skeletonGrid(results, 12);

  const [genres, directors] = await Promise.all([api.genres(), api.directors()]);
  if (ctx.stale()) return;
  const any = { value: "", label: t("catalog.any") };
  const number = (label, name, extra) => field({
    label, name, value: chosen[name], inputmode: "numeric", placeholder: t("catalog.yearPlaceholder"), autocomplete: "off", ...extra,
  });
  form.append(
    h("div", { class: "filters__row" },
      field({ label: t("catalog.q"), name: "q", type: "search", value: chosen.q, placeholder: t("catalog.qPlaceholder"), autocomplete: "off" }),
      selectField({ label: t("catalog.director"), name: "director_id", value: chosen.director, options: [any, ...directors.data.map((d) => ({ value: d.id, label: d.name }))] }),
      ...sortControls(chosen),
    ),
    h("div", { class: "filters__row filters__row--numbers" },
      number(t("catalog.yearFrom"), "year_from", { maxlength: 4 }),
      number(t("catalog.yearTo"), "year_to", { maxlength: 4 }),
      number(t("catalog.ratingMin"), "rating_min", { inputmode: "decimal", maxlength: 4 }),
    ),
    genreChoices(genres.data, chosen),
    formStatus(),
    h("div", { class: "filters__actions" },
      h("button", { type: "submit", class: "button button--primary", text: t("catalog.apply") }),
      h("a", { class: "button button--ghost", href: "#/movies", text: t("catalog.reset") }),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("/movies", readForm(form));
  });

  const done = busy(form);
  let movies;
  try {
    movies = await api.movies({
      page,
      q: chosen.q,
      sort: chosen.sort === "new" ? "" : chosen.sort,
      status: chosen.sort === "new" ? "new" : "",
      genre_id: chosen.genre,
      director_id: chosen.director,
      year_from: chosen.year_from,
      year_to: chosen.year_to,
      rating_min: chosen.rating_min,
    });
  } catch (error) {
    if (ctx.stale()) return;
    done();
    if (error.status !== 422) throw error;
    // A value the API refuses (a year such as "abc"): the reason, in the interface's
    // language, next to the form and its field.
    clearFormErrors(form);
    showFormError(form, error, { sort: "sort_key", status: "sort_key" });
    clear(results);
    return;
  }
  if (ctx.stale()) return;
  done();
  const total = movies.total ?? movies.data.length;
  summary.textContent = phrase(total, "found");
  if (!movies.data.length) {
    fill(results, emptyState(t("catalog.empty"), h("a", { class: "button", href: "#/movies", text: t("catalog.reset") })));
    return;
  }
  const link = (p) => href("/movies", { ...chosen, page: p > 1 ? p : null });
  fill(results, movieGrid(movies.data), pager(page, total, link));
}
