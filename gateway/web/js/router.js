// Hash routes (#/movies?page=2): the gateway serves files only, so every page of the app
// lives in index.html and the part after "#" chooses the view.

import { AuthRequired } from "./api.js";
import { h, fill } from "./dom.js";
import { t } from "./i18n.js";
import { announce, errorView, notFoundView } from "./views/common.js";

const routes = [];
let renderCount = 0;
let flashMessage = null;
let main = null;

export function route(pattern, view) {
  routes.push({ pattern, view });
}

export function current() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, qs = ""] = raw.split("?");
  return { path: path || "/", params: new URLSearchParams(qs), full: raw || "/" };
}

export function href(path, params) {
  const qs = params ? new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""),
  ).toString() : "";
  return `#${path}${qs ? `?${qs}` : ""}`;
}

export function navigate(path, params) {
  const target = href(path, params);
  if (location.hash === target) render();
  else location.hash = target;
}

// A message shown once, at the top of the next page (after a redirect).
export function flash(message, kind = "info") {
  flashMessage = { message, kind };
}

export function loginRedirect(expired) {
  const here = current();
  const next = here.path.startsWith("/login") || here.path.startsWith("/register") ? null : here.full;
  flash(t(expired ? "session.expired" : "session.required"), "warning");
  navigate("/login", { next });
}

export async function render({ focus = true } = {}) {
  const ticket = ++renderCount;
  const { path, params, full } = current();
  let match = null;
  let view = notFoundView;
  for (const candidate of routes) {
    match = path.match(candidate.pattern);
    if (match) {
      view = candidate.view;
      break;
    }
  }
  const root = h("div", { class: "view" });
  if (flashMessage) {
    root.append(
      h("p", { class: `notice notice--${flashMessage.kind}`, role: "status", text: flashMessage.message }),
    );
    flashMessage = null;
  }
  const content = h("div", { class: "view__content" });
  root.append(content);
  fill(main, root);
  main.setAttribute("aria-busy", "true");
  document.dispatchEvent(new CustomEvent("kinoarchive:route", { detail: { path } }));

  const ctx = {
    params,
    match,
    path,
    full,
    root: content,
    stale: () => ticket !== renderCount,
    title(text) {
      document.title = text ? `${text} — ${t("app.name")}` : t("app.name");
    },
  };
  try {
    await view(ctx);
  } catch (error) {
    if (ctx.stale()) return;
    if (error instanceof AuthRequired) {
      loginRedirect(error.expired);
      return;
    }
    if (error && error.status === 404) notFoundView(ctx);
    else errorView(ctx, error);
  }
  if (ctx.stale()) return;
  main.removeAttribute("aria-busy");
  announce(t("loaded", { title: document.title }));
  if (focus) {
    const heading = main.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }
  // The view is complete (the browser tests check each page with axe-core at this point).
  document.dispatchEvent(new CustomEvent("kinoarchive:rendered", { detail: { path } }));
}

export function start(mainElement) {
  main = mainElement;
  window.addEventListener("hashchange", () => render());
  render({ focus: false });
}
