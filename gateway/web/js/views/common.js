// Pieces shared by the views: loading and empty states, movie cards, pagination, forms.

import { ApiError, NetworkError } from "../api.js";
import { h, clear, fill } from "../dom.js";
import { apiErrorText, fieldErrorText, t } from "../i18n.js";

export const PAGE_SIZE = 12;

export function announce(text) {
  const region = document.getElementById("live");
  if (!region) return;
  region.textContent = "";
  // A fresh text node in a later task makes screen readers speak it again.
  setTimeout(() => {
    region.textContent = text;
  }, 30);
}

export function loading(el) {
  fill(el,
    h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), t("loading")),
  );
}

export function skeletonGrid(el, n = 8) {
  const grid = h("div", { class: "grid grid--skeleton", "aria-hidden": "true" });
  for (let i = 0; i < n; i++) grid.append(h("div", { class: "card card--skeleton" }));
  fill(el, h("p", { class: "visually-hidden", role: "status", text: t("loading") }), grid);
}

export function emptyState(text, action) {
  return h("div", { class: "empty" }, h("p", { text }), action || null);
}

export function errorText(error) {
  if (error instanceof ApiError) {
    // By the error's code, in the interface's language (the API's `message` is English).
    const text = apiErrorText(error.code, error.status);
    const first = error.errors.find((item) => item && item.message);
    return error.code === "validation_error" && first
      ? `${text} ${fieldErrorText(first.message)}`
      : text;
  }
  if (error instanceof NetworkError) return t("error.network");
  return String((error && error.message) || error);
}

export function errorView(ctx, error) {
  ctx.title(t("error.title"));
  fill(ctx.root,
    h("section", { class: "panel panel--narrow" },
      h("h1", { text: t("error.title") }),
      h("p", { class: "form-error", role: "alert", text: errorText(error) }),
      h("button", { type: "button", class: "button", onclick: () => window.dispatchEvent(new HashChangeEvent("hashchange")) }, t("error.retry")),
    ),
  );
}

export function notFoundView(ctx) {
  ctx.title(t("notFound.title"));
  fill(ctx.root,
    h("section", { class: "panel panel--narrow" },
      h("h1", { text: t("notFound.title") }),
      h("p", { text: t("notFound.text") }),
      h("a", { class: "button", href: "#/" }, t("notFound.home")),
    ),
  );
}

// --- Movies ----------------------------------------------------------------------------

// The catalog has no pictures: a poster is a tinted tile with the title's initial.
export function poster(movie, size = "card") {
  const hue = Math.abs(Number(movie.id) || 0) % 8;
  const initial = (movie.title || "?").trim().charAt(0).toUpperCase();
  return h("div", { class: `poster poster--${size} poster--h${hue}`, "aria-hidden": "true" },
    h("span", { class: "poster__initial", text: initial }),
    h("span", { class: "poster__label", text: (movie.genre && movie.genre.name) || "" }),
  );
}

export function rating(movie) {
  if (typeof movie.rating !== "number") return null;
  const value = movie.rating.toFixed(1);
  return h("span", { class: "rating", title: t("movie.rating", { rating: value }) },
    h("span", { "aria-hidden": "true", text: "★ " }),
    h("span", { class: "visually-hidden", text: `${t("movie.rating", { rating: "" }).trim()} ` }),
    value,
  );
}

export function movieCard(movie, extra) {
  const link = `#/movies/${movie.id}`;
  const genre = movie.genre && movie.genre.name;
  const director = movie.director && movie.director.name;
  return h("article", { class: "card" },
    h("a", { class: "card__poster", href: link, tabindex: "-1", "aria-hidden": "true" }, poster(movie)),
    h("div", { class: "card__body" },
      h("h3", { class: "card__title" }, h("a", { href: link, text: movie.title })),
      h("p", { class: "card__meta" },
        h("span", {}, movie.year ? String(movie.year) : "", genre ? h("span", { class: "visually-hidden", text: `, ${genre}` }) : null),
        rating(movie),
      ),
      director ? h("p", { class: "card__director", text: director }) : null,
      extra || null,
    ),
  );
}

export function movieGrid(movies, extra) {
  const grid = h("div", { class: "grid" });
  for (const movie of movies) grid.append(movieCard(movie, extra && extra(movie)));
  return grid;
}

// Page links: first, last, the current one and its neighbours, with gaps between.
export function pager(page, total, link) {
  const pages = Math.max(1, Math.ceil((total || 0) / PAGE_SIZE));
  if (pages <= 1) return null;
  const wanted = new Set([1, pages, page - 1, page, page + 1].filter((p) => p >= 1 && p <= pages));
  const list = h("ul", { class: "pager__list" });
  const item = (child) => list.append(h("li", {}, child));
  item(page > 1
    ? h("a", { class: "pager__step", href: link(page - 1), rel: "prev" }, h("span", { "aria-hidden": "true", text: "←" }), h("span", { class: "pager__label", text: t("pager.prev") }))
    : h("span", { class: "pager__step is-disabled", "aria-disabled": "true" }, h("span", { "aria-hidden": "true", text: "←" }), h("span", { class: "pager__label", text: t("pager.prev") })));
  let last = 0;
  for (const p of [...wanted].sort((a, b) => a - b)) {
    if (p - last > 1) item(h("span", { class: "pager__gap", "aria-hidden": "true", text: "…" }));
    item(h("a", {
      class: p === page ? "pager__page is-current" : "pager__page",
      href: link(p),
      "aria-label": t("pager.page", { page: p }),
      "aria-current": p === page ? "page" : null,
      text: String(p),
    }));
    last = p;
  }
  item(page < pages
    ? h("a", { class: "pager__step", href: link(page + 1), rel: "next" }, h("span", { class: "pager__label", text: t("pager.next") }), h("span", { "aria-hidden": "true", text: "→" }))
    : h("span", { class: "pager__step is-disabled", "aria-disabled": "true" }, h("span", { class: "pager__label", text: t("pager.next") }), h("span", { "aria-hidden": "true", text: "→" })));
  return h("nav", { class: "pager", "aria-label": t("pager.label") },
    list,
    h("p", { class: "pager__summary", text: t("pager.of", { page, pages }) }),
  );
}

export function pageNumber(params) {
  const page = Number.parseInt(params.get("page") || "1", 10);
  return Number.isFinite(page) && page >= 1 ? page : 1;
}

// --- Forms -----------------------------------------------------------------------------

let fieldCount = 0;

// A labelled field with a hint and a slot for its own error message.
export function field({ label, name, type = "text", value = "", autocomplete, hint, required, inputmode, placeholder, maxlength }) {
  const id = `f-${name}-${++fieldCount}`;
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const input = h("input", {
    id, name, type, autocomplete, inputmode, placeholder, maxlength,
    required: required || null,
    "aria-describedby": [hintId, errorId].filter(Boolean).join(" "),
  });
  input.value = value ?? "";
  return h("div", { class: "field" },
    h("label", { for: id, text: label }),
    input,
    hint ? h("p", { class: "field__hint", id: hintId, text: hint }) : null,
    h("p", { class: "field__error", id: errorId, hidden: true }),
  );
}

export function selectField({ label, name, options, value = "" }) {
  const id = `f-${name}-${++fieldCount}`;
  const errorId = `${id}-error`;
  const select = h("select", { id, name, "aria-describedby": errorId });
  for (const option of options) {
    select.append(h("option", { value: String(option.value), text: option.label }));
  }
  select.value = String(value ?? "");
  return h("div", { class: "field" },
    h("label", { for: id, text: label }),
    select,
    h("p", { class: "field__error", id: errorId, hidden: true }),
  );
}

// The box for a form's error (the API's message) and success notes, right above its
// submit button.
export function formStatus() {
  return h("div", { class: "form-status", "aria-live": "polite" });
}

export function clearFormErrors(form) {
  for (const el of form.querySelectorAll(".field__error")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const status = form.querySelector(".form-status");
  if (status) clear(status);
}

function fieldError(form, name, message) {
  const input = form.elements.namedItem(name);
  if (!input || !input.id) return false;
  const slot = document.getElementById(`${input.id}-error`);
  if (!slot) return false;
  slot.textContent = message;
  slot.hidden = false;
  input.setAttribute("aria-invalid", "true");
  return true;
}

// The API's message next to the form; field errors next to their fields.
export function showFormError(form, error, aliases = {}) {
  const status = form.querySelector(".form-status");
  let firstInvalid = null;
  if (error instanceof ApiError) {
    for (const item of error.errors) {
      const name = aliases[item.field] || item.field;
      // The API's field message, in the interface's language.
      if (item.message && fieldError(form, name, fieldErrorText(item.message)) && !firstInvalid) {
        firstInvalid = form.elements.namedItem(name);
      }
    }
  }
  if (status) {
    fill(status, h("p", { class: "form-error", role: "alert", text: errorText(error) }));
  }
  if (firstInvalid) firstInvalid.focus();
}

export function showFormSuccess(form, text) {
  const status = form.querySelector(".form-status");
  if (status) fill(status, h("p", { class: "form-success", role: "status", text }));
}

export function showFieldError(form, name, message) {
  fieldError(form, name, message);
  const status = form.querySelector(".form-status");
  if (status) fill(status, h("p", { class: "form-error", role: "alert", text: t("form.fix") }));
  const input = form.elements.namedItem(name);
  if (input) input.focus();
}

// Disable the submit button while the request runs; returns a function that undoes it.
export function busy(form) {
  const button = form.querySelector("button[type=submit]");
  const label = button ? button.textContent : "";
  if (button) {
    button.disabled = true;
    button.textContent = t("form.sending");
  }
  form.setAttribute("aria-busy", "true");
  return () => {
    if (button) {
      button.disabled = false;
      button.textContent = label;
    }
    form.removeAttribute("aria-busy");
  };
}
