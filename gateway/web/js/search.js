// The search box in the header, on every page: suggestions as you type, in the WAI-ARIA
// 1.2 combobox pattern (an input with a listbox popup, focus staying in the input, the
// chosen option named by aria-activedescendant).
// - Typing asks GET /movies/suggest/ once the typing pauses (DEBOUNCE_MS); a newer
//   keystroke aborts the request in flight, so a slow answer never replaces a newer one.
// - Down/Up move through the options (and open the list), Enter opens the chosen film or,
//   with none chosen, the catalog with `q`; Escape closes the list (a second one clears).
// - A polite live region says how many suggestions there are.
// The element is made once and moved into each new header, so typing survives a redraw.

import { api } from "./api.js";
import { h, fill } from "./dom.js";
import { phrase, t } from "./i18n.js";
import { current, navigate } from "./router.js";

const DEBOUNCE_MS = 150;
const LIST_ID = "site-search-list";

let timer = 0;
let controller = null;
let options = [];
let active = -1;

const input = h("input", {
  id: "site-search-q",
  name: "q",
  type: "search",
  role: "combobox",
  autocomplete: "off",
  spellcheck: "false",
  "aria-autocomplete": "list",
  "aria-expanded": "false",
  "aria-controls": LIST_ID,
});
const label = h("label", { for: "site-search-q", class: "visually-hidden" });
const list = h("ul", { id: LIST_ID, class: "suggest", role: "listbox", hidden: true });
const status = h("div", { class: "visually-hidden", role: "status", "aria-live": "polite", "aria-atomic": "true" });
const submit = h("button", { type: "submit", class: "site-search__submit" });
const form = h("form", { class: "site-search", role: "search", novalidate: true },
  label,
  h("div", { class: "site-search__combo" }, input, list),
  submit,
  status,
);

function labels() {
  label.textContent = t("search.label");
  input.placeholder = t("search.placeholder");
  list.setAttribute("aria-label", t("search.suggestions"));
  submit.textContent = t("search.submit");
}

function close() {
  list.hidden = true;
  input.setAttribute("aria-expanded", "false");
  input.removeAttribute("aria-activedescendant");
  active = -1;
}

function open() {
  if (!options.length) return;
  list.hidden = false;
  input.setAttribute("aria-expanded", "true");
}

function choose(index) {
  active = index;
  list.querySelectorAll("[role=option]").forEach((el, i) => {
    el.setAttribute("aria-selected", i === index ? "true" : "false");
    if (i === index) el.scrollIntoView({ block: "nearest" });
  });
  if (index >= 0) input.setAttribute("aria-activedescendant", `${LIST_ID}-${index}`);
  else input.removeAttribute("aria-activedescendant");
}

function go(movie) {
  close();
  input.value = "";
  navigate(`/movies/${movie.id}`);
}

function show(movies) {
  options = movies;
  active = -1;
  const items = movies.map((movie, i) => {
    const original = movie.original_title && movie.original_title !== movie.title ? movie.original_title : null;
    const item = h("li", { id: `${LIST_ID}-${i}`, class: "suggest__option", role: "option", "aria-selected": "false" },
      h("span", { class: "suggest__title", text: movie.title }),
      h("span", { class: "suggest__meta" },
        original ? h("span", { class: "suggest__original", text: original }) : null,
        movie.year ? h("span", { class: "suggest__year", text: String(movie.year) }) : null,
      ),
    );
    // mousedown, not click: the input keeps its focus, and the list is still there.
    item.addEventListener("mousedown", (event) => {
      event.preventDefault();
      go(movie);
    });
    return item;
  });
  fill(list, items);
  status.textContent = movies.length ? phrase(movies.length, "suggestions") : t("search.none");
  if (movies.length) open();
  else close();
}

async function suggest(q) {
  if (controller) controller.abort();
  controller = new AbortController();
  const { signal } = controller;
  try {
    const answer = await api.suggest(q, signal);
    if (signal.aborted || input.value.trim() !== q) return;
    show(Array.isArray(answer.data) ? answer.data.slice(0, 8) : []);
  } catch (error) {
    if (signal.aborted || (error && error.name === "AbortError")) return;
    // Suggestions are a help, not the search: a failure only hides them.
    options = [];
    fill(list);
    close();
  }
}

input.addEventListener("input", () => {
  clearTimeout(timer);
  const q = input.value.trim();
  if (!q) {
    if (controller) controller.abort();
    options = [];
    fill(list);
    status.textContent = "";
    close();
    return;
  }
  timer = setTimeout(() => suggest(q), DEBOUNCE_MS);
});

input.addEventListener("keydown", (event) => {
  const expanded = !list.hidden;
  if (event.key === "ArrowDown") {
    event.preventDefault();
    if (!options.length) return;
    open();
    choose(expanded ? (active + 1) % options.length : 0);
  } else if (event.key === "ArrowUp") {
    event.preventDefault();
    if (!options.length) return;
    open();
    choose(expanded ? (active <= 0 ? options.length - 1 : active - 1) : options.length - 1);
  } else if (event.key === "Enter" && expanded && active >= 0) {
    event.preventDefault();
    go(options[active]);
  } else if (event.key === "Escape") {
    if (expanded) {
      event.preventDefault();
      event.stopPropagation();
      close();
    } else if (input.value) {
      event.preventDefault();
      input.value = "";
    }
  }
});

input.addEventListener("blur", () => close());

form.addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(timer);
  if (controller) controller.abort();
  close();
  const q = input.value.trim();
  const here = current();
  // A search from the catalog keeps its filters; from elsewhere it starts afresh.
  const params = here.path.replace(/\/$/, "") === "/movies" ? Object.fromEntries(here.params) : {};
  delete params.page;
  delete params.sort;
  navigate("/movies", { ...params, q });
});

// The box for a new header: the same element, its texts in the current language, and
// the catalog's query in it on the catalog page.
export function searchBox() {
  labels();
  close();
  const here = current();
  if (document.activeElement !== input) {
    input.value = here.path.replace(/\/$/, "") === "/movies" ? here.params.get("q") || "" : "";
  }
  return form;
}
