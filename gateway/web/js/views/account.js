// Register, log in, profile (with the account's sessions), password change and bookmarks.

import { api, isLoggedIn, AuthRequired } from "../api.js";
import { h, clear, fill } from "../dom.js";
import { t, count, getLang } from "../i18n.js";
import { flash, href, loginRedirect, navigate } from "../router.js";
import {
  announce, busy, clearFormErrors, emptyState, errorText, field, formStatus, loading, movieGrid,
  pageNumber, pager, selectField, showFieldError, showFormError, showFormSuccess, skeletonGrid,
} from "./common.js";

// Where to go after logging in: the page that asked for it, or the profile.
function nextTarget(params) {
  const next = params.get("next") || "";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/profile";
}

function goTo(target) {
  const [path, qs] = target.split("?");
  navigate(path, qs ? Object.fromEntries(new URLSearchParams(qs)) : undefined);
}

function authPage(ctx, { title, lead, form, footer }) {
  ctx.title(title);
  fill(ctx.root,
    h("section", { class: "panel panel--narrow" },
      h("h1", { text: title }),
      h("p", { class: "muted", text: lead }),
      form,
      footer,
    ),
  );
}

function requireLogin() {
  if (!isLoggedIn()) throw new AuthRequired(false);
}

// Runs a form's request: errors from the API go next to the form.
async function submitting(form, work) {
  clearFormErrors(form);
  const done = busy(form);
  try {
    await work();
  } catch (error) {
    if (error instanceof AuthRequired) {
      loginRedirect(error.expired);
      return;
    }
    showFormError(form, error);
  } finally {
    done();
  }
}

export async function registerView(ctx) {
  const form = h("form", { class: "form", novalidate: true },
    field({ label: t("field.email"), name: "email", type: "email", autocomplete: "email", required: true }),
    field({ label: t("field.password"), name: "password", type: "password", autocomplete: "new-password", hint: t("field.passwordHint"), required: true }),
    field({ label: t("field.password2"), name: "password2", type: "password", autocomplete: "new-password", required: true }),
    formStatus(),
    h("button", { type: "submit", class: "button button--primary button--wide", text: t("register.submit") }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    clearFormErrors(form);
    if (password !== form.elements.password2.value) {
      showFieldError(form, "password2", t("field.mismatch"));
      return;
    }
    submitting(form, async () => {
      await api.register(email, password);
      await api.login(email, password);
      flash(t("register.done"), "success");
      goTo(nextTarget(ctx.params));
    });
  });
  authPage(ctx, {
    title: t("register.title"),
    lead: t("register.lead"),
    form,
    footer: h("p", { class: "panel__footer" }, `${t("register.haveAccount")} `,
      h("a", { href: href("/login", { next: ctx.params.get("next") }), text: t("nav.login") })),
  });
}

export async function loginView(ctx) {
  const form = h("form", { class: "form", novalidate: true },
    field({ label: t("field.email"), name: "email", type: "email", autocomplete: "username", required: true }),
    field({ label: t("field.password"), name: "password", type: "password", autocomplete: "current-password", required: true }),
    formStatus(),
    h("button", { type: "submit", class: "button button--primary button--wide", text: t("login.submit") }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, async () => {
      await api.login(form.elements.email.value.trim(), form.elements.password.value);
      goTo(nextTarget(ctx.params));
    });
  });
  authPage(ctx, {
    title: t("login.title"),
    lead: t("login.lead"),
    form,
    footer: h("p", { class: "panel__footer" }, `${t("login.noAccount")} `,
      h("a", { href: href("/register", { next: ctx.params.get("next") }), text: t("nav.register") })),
  });
}

function formatWhen(iso) {
  const locale = getLang() === "en" ? "en-GB" : "ru-RU";
  return new Date(iso).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });
}

// The account's sessions (one per login): the current one marked, the others each with a
// button that ends it, and one that ends them all. Errors stay in the panel.
function sessionsPanel(ctx) {
  const list = h("ul", { class: "profile__links sessions", "aria-label": t("sessions.title") });
  const status = h("div", { role: "status" });
  const endOthers = h("button", {
    type: "button", class: "button button--small button--ghost", text: t("sessions.endOthers"),
  });
  const actions = h("p"); // holds endOthers while there are other sessions to end
  const panel = h("section", { class: "panel section", "aria-labelledby": "profile-sessions" },
    h("h2", { id: "profile-sessions", text: t("sessions.title") }),
    h("p", { class: "muted", text: t("sessions.lead") }),
    list, actions, status);

  const fail = (error) => {
    if (ctx.stale()) return; // the user has moved on to another page
    if (error instanceof AuthRequired) {
      loginRedirect(error.expired);
      return;
    }
    fill(status, h("p", { class: "form-error", role: "alert", text: errorText(error) }));
  };
  const othersLeft = () => list.querySelector("[data-other]") !== null;
  const paintButton = () => {
    fill(actions, othersLeft() ? endOthers : null);
  };

  const item = (session) => {
    const device = session.user_agent || t("sessions.unknownDevice");
    const details = t("sessions.details", {
      address: session.client_address || t("sessions.unknownAddress"),
      created: formatWhen(session.created_at),
      used: formatWhen(session.last_used_at),
    });
    const li = h("li", { class: "notice", "data-session": session.id },
      session.current ? h("p", { class: "kicker", text: t("sessions.current") }) : null,
      h("p", { class: "sessions__device" }, h("strong", { text: device })),
      h("p", { class: "muted", text: details }));
    if (!session.current) {
      li.dataset.other = "";
      const end = h("button", {
        type: "button",
        class: "button button--small button--ghost",
        "aria-label": t("sessions.endLabel", { device }),
        text: t("sessions.end"),
      });
      end.addEventListener("click", async () => {
        end.disabled = true;
        clear(status);
        try {
          await api.endSession(session.id);
          li.remove();
          paintButton();
          announce(t("sessions.ended"));
        } catch (error) {
          end.disabled = false;
          fail(error);
        }
      });
      li.append(end);
    }
    return li;
  };

  endOthers.addEventListener("click", async () => {
    endOthers.disabled = true;
    clear(status);
    try {
      await api.endOtherSessions();
      for (const li of list.querySelectorAll("[data-other]")) li.remove();
      paintButton();
      announce(t("sessions.endedOthers"));
    } catch (error) {
      fail(error);
    } finally {
      endOthers.disabled = false;
    }
  });

  const load = async () => {
    try {
      const { data } = await api.sessions();
      if (ctx.stale()) return;
      if (data.length) fill(list, ...data.map(item));
      else fill(list, h("li", { class: "muted", text: t("sessions.none") }));
      paintButton();
    } catch (error) {
      fail(error);
    }
  };
  return { panel, load };
}

export async function profileView(ctx) {
  requireLogin();
  ctx.title(t("profile.title"));
  loading(ctx.root);
  const [profile, genres] = await Promise.all([api.profile(), api.genres()]);
  if (ctx.stale()) return;
  const me = profile.data;
  const favourite = me.favourite_genre ?? me.favorite_genre ?? "";
  const genreName = (id) => (genres.data.find((g) => g.id === Number(id)) || {}).name;

  const favouriteLink = h("p", { class: "profile__favourite" });
  const paintFavourite = (id) => {
    clear(favouriteLink);
    const name = genreName(id);
    if (name) favouriteLink.append(h("a", { href: href(`/genres/${id}`) }, t("profile.favouriteMovies", { genre: name }), h("span", { "aria-hidden": "true", text: " →" })));
  };
  paintFavourite(favourite);

  const form = h("form", { class: "form", novalidate: true },
    h("div", { class: "form__row" },
      field({ label: t("field.name"), name: "name", value: me.name || "", autocomplete: "given-name", maxlength: 100 }),
      field({ label: t("field.surname"), name: "surname", value: me.surname || "", autocomplete: "family-name", maxlength: 100 }),
    ),
    selectField({
      label: t("field.favouriteGenre"),
      name: "favourite_genre",
      value: favourite,
      options: [{ value: "", label: t("field.noGenre") }, ...genres.data.map((g) => ({ value: g.id, label: g.name }))],
    }),
    formStatus(),
    h("button", { type: "submit", class: "button button--primary", text: t("profile.save") }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, async () => {
      const genre = form.elements.favourite_genre.value;
      const { data } = await api.updateProfile({
        name: form.elements.name.value.trim() || null,
        surname: form.elements.surname.value.trim() || null,
        favourite_genre: genre ? Number(genre) : null,
      });
      paintFavourite(data.favourite_genre ?? data.favorite_genre);
      showFormSuccess(form, t("profile.saved"));
      announce(t("profile.saved"));
    });
  });

  const sessions = sessionsPanel(ctx);
  const fullName = [me.name, me.surname].filter(Boolean).join(" ");
  const initials = [me.name, me.surname].filter(Boolean).map((s) => s.charAt(0).toUpperCase()).join("") || me.email.charAt(0).toUpperCase();
  fill(ctx.root,
    h("div", { class: "page-head" }, h("h1", { text: t("profile.title") })),
    h("div", { class: "profile" },
      h("aside", { class: "panel profile__card", "aria-label": t("profile.account") },
        h("div", { class: "avatar", "aria-hidden": "true", text: initials }),
        fullName ? h("p", { class: "profile__name", text: fullName }) : null,
        h("p", { class: fullName ? "profile__email muted" : "profile__email profile__email--main", text: me.email }),
        favouriteLink,
        h("ul", { class: "profile__links" },
          h("li", {}, h("a", { href: "#/bookmarks", text: t("profile.bookmarks") })),
          h("li", {}, h("a", { href: "#/password", text: t("profile.changePassword") })),
        ),
      ),
      h("section", { class: "panel", "aria-labelledby": "profile-details" },
        h("h2", { id: "profile-details", text: t("profile.details") }), form),
    ),
    sessions.panel,
  );
  sessions.load(); // not awaited: the profile is usable while the sessions arrive
}

export async function passwordView(ctx) {
  requireLogin();
  ctx.title(t("password.title"));
  const form = h("form", { class: "form", novalidate: true },
    field({ label: t("field.oldPassword"), name: "old_password", type: "password", autocomplete: "current-password", required: true }),
    field({ label: t("field.newPassword"), name: "new_password", type: "password", autocomplete: "new-password", hint: t("field.passwordHint"), required: true }),
    field({ label: t("field.newPassword2"), name: "new_password2", type: "password", autocomplete: "new-password", required: true }),
    formStatus(),
    h("button", { type: "submit", class: "button button--primary button--wide", text: t("password.submit") }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const next = form.elements.new_password.value;
    if (next !== form.elements.new_password2.value) {
      showFieldError(form, "new_password2", t("field.mismatch"));
      return;
    }
    submitting(form, async () => {
      await api.changePassword(form.elements.old_password.value, next);
      form.reset();
      showFormSuccess(form, t("password.done"));
      announce(t("password.done"));
    });
  });
  authPage(ctx, {
    title: t("password.title"),
    lead: t("password.lead"),
    form,
    footer: h("p", { class: "panel__footer" }, h("a", { href: "#/profile", text: t("profile.title") })),
  });
}

export async function bookmarksView(ctx) {
  requireLogin();
  const page = pageNumber(ctx.params);
  ctx.title(page > 1 ? t("bookmarks.titlePage", { page }) : t("bookmarks.title"));
  const summary = h("p", { class: "results__summary", role: "status" });
  const results = h("div");
  fill(ctx.root,
    h("div", { class: "page-head" }, h("h1", { text: t("bookmarks.title") }), summary),
    // The cards' titles are h3: this heading keeps the outline in order.
    h("h2", { class: "visually-hidden", text: t("catalog.results") }),
    results,
  );
  skeletonGrid(results, 6);
  const movies = await api.bookmarks(page);
  if (ctx.stale()) return;
  let total = movies.total ?? movies.data.length;
  summary.textContent = t("bookmarks.count", { count: count(total, "film") });
  if (!movies.data.length) {
    fill(results, emptyState(t("bookmarks.empty"), h("a", { class: "button button--primary", href: "#/movies", text: t("bookmarks.toCatalog") })));
    return;
  }
  const removeButton = (movie) => {
    const button = h("button", {
      type: "button",
      class: "button button--small button--ghost card__remove",
      "aria-label": t("bookmarks.removeLabel", { title: movie.title }),
      text: t("bookmarks.remove"),
    });
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api.removeBookmark(movie.id);
        const card = button.closest(".card");
        const grid = card.parentElement;
        card.remove();
        total -= 1;
        summary.textContent = t("bookmarks.count", { count: count(total, "film") });
        announce(t("movie.bookmarkRemoved"));
        if (!grid.children.length) navigate("/bookmarks", { page: page > 1 ? page - 1 : null });
        else grid.querySelector("a")?.focus();
      } catch (error) {
        if (error instanceof AuthRequired) {
          loginRedirect(error.expired);
          return;
        }
        button.disabled = false;
        button.after(h("p", { class: "form-error", role: "alert", text: errorText(error) }));
      }
    });
    return button;
  };
  fill(results,
    movieGrid(movies.data, removeButton),
    pager(page, total, (p) => href("/bookmarks", { page: p > 1 ? p : null })),
  );
}
