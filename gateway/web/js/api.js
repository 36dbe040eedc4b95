// The one door to the API: every call goes through request().
// - The refresh token lives in an HttpOnly cookie that only the auth routes see (the auth
//   service's cookie mode, asked for with `X-Token-Transport: cookie`): no script, ours
//   included, can read it. The access token lives in this module's memory only, so a
//   reload or a new tab starts without one.
// - localStorage keeps no token, only a mark that a session may exist (SESSION_KEY, not a
//   secret): with it, the first call that needs the access token (or the page load)
//   renews it with PUT /auth/login/ from the cookie; a 401 there means signed out.
// - A 401 on an authorised call triggers one renewal and one retry; a failed renewal
//   signs out and throws AuthRequired, which the router turns into the login page.
// - Errors become ApiError with the API's own `message`, `code` and field `errors`.

const SESSION_KEY = "kinoarchive.session";
// Where versions before the cookie kept the token pair; moved into the cookie on load.
const LEGACY_TOKENS_KEY = "kinoarchive.tokens";
const COOKIE_MODE = { "X-Token-Transport": "cookie" };
const authListeners = new Set();
let accessToken = null;
// A pair kept by an older version is being moved into the cookie (see restore()).
let moving = localStorage.getItem(LEGACY_TOKENS_KEY) !== null;

export class ApiError extends Error {
  constructor(status, body) {
    super((body && typeof body.message === "string" && body.message) || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = (body && body.code) || "error";
    this.errors = Array.isArray(body && body.errors) ? body.errors : [];
    this.hasMessage = Boolean(body && typeof body.message === "string" && body.message);
  }
}

export class NetworkError extends Error {
  constructor() {
    super("network");
    this.name = "NetworkError";
  }
}

// The session is missing or cannot be renewed: the person has to log in.
export class AuthRequired extends Error {
  constructor(expired = false) {
    super(expired ? "session expired" : "login required");
    this.name = "AuthRequired";
    this.expired = expired;
  }
}

// --- Session state ----------------------------------------------------------------------

function hasSession() {
  return localStorage.getItem(SESSION_KEY) !== null;
}

// Logged in (as far as this tab knows: the cookie itself is out of a script's reach).
export function isLoggedIn() {
  return moving || hasSession();
}

// A login: the mark changes with each one, so that other tabs drop the access token they
// hold (it may be another person's) and renew from the new cookie.
function signedIn(token) {
  accessToken = token;
  localStorage.setItem(SESSION_KEY, `${Date.now()}-${Math.random().toString(36).slice(2)}`);
  notify();
}

function renewed(token) {
  accessToken = token;
}

function signedOut() {
  accessToken = null;
  const had = hasSession();
  localStorage.removeItem(SESSION_KEY);
  if (had) notify();
}

export function onAuthChange(fn) {
  authListeners.add(fn);
}

function notify() {
  for (const fn of authListeners) fn(isLoggedIn());
}

// Another tab logged in or out.
window.addEventListener("storage", (event) => {
  if (event.key === SESSION_KEY || event.key === null) {
    accessToken = null;
    notify();
  }
});

// --- Requests -------------------------------------------------------------------------

function buildUrl(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

async function send(method, url, body, token, extraHeaders = {}, signal = undefined) {
  const headers = { Accept: "application/json", ...extraHeaders };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    return await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal,
    });
  } catch (error) {
    // A request its caller gave up on (a newer keystroke) is no network failure.
    if (signal && signal.aborted) throw error;
    throw new NetworkError();
  }
}

async function parse(response) {
  let body = null;
  if (response.status !== 204) {
    const text = await response.text();
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
    }
  }
  if (!response.ok) throw new ApiError(response.status, body);
  const total = response.headers.get("X-Total-Count");
  return { data: body, total: total === null ? null : Number(total), status: response.status };
}

// PUT /auth/login/ in cookie mode: the cookie (or, once, a refresh token kept by an
// older version of the app) for a new access token and a new cookie. A 401 means the
// session is over; any other failure (an outage) leaves it alone.
async function renewOnce(staleToken) {
  // Another call in this tab has renewed the token meanwhile: use it.
  if (accessToken && accessToken !== staleToken) return;
  const legacy = takeLegacyRefreshToken();
  if (!legacy && !hasSession()) throw new AuthRequired(true);
  const body = legacy ? { refresh_token: legacy } : undefined;
  const response = await send("PUT", "/auth/login/", body, null, COOKIE_MODE);
  if (response.status === 401) {
    signedOut();
    throw new AuthRequired(true);
  }
  const { data } = await parse(response);
  if (legacy) signedIn(data.access_token);
  else renewed(data.access_token);
}

// The refresh token of a pair that an older version kept in localStorage, removed from
// there at once (read inside the lock, so that two tabs never present it both).
function takeLegacyRefreshToken() {
  const raw = localStorage.getItem(LEGACY_TOKENS_KEY);
  if (raw === null) return null;
  localStorage.removeItem(LEGACY_TOKENS_KEY);
  try {
    const token = JSON.parse(raw).refresh_token;
    return typeof token === "string" && token ? token : null;
  } catch {
    return null;
  }
}

let renewing = null;

// One renewal at a time, across tabs where the browser has Web Locks: a refresh token is
// single use, and presenting it twice would end the whole session. A tab that waited
// for the lock sends the cookie that the other tab's renewal left.
function renew(staleToken) {
  if (!renewing) {
    const run = () => renewOnce(staleToken);
    const locked =
      navigator.locks && navigator.locks.request
        ? navigator.locks.request("kinoarchive-refresh", run)
        : run();
    renewing = locked.finally(() => {
      renewing = null;
    });
  }
  return renewing;
}

// On load: move a pair kept by an older version into the cookie, or renew the access
// token if a session may exist. Never rejects: what it could not do, a call retries.
async function restore() {
  if (!moving && !hasSession()) return;
  try {
    await renew(null);
  } catch {
    // Signed out (AuthRequired), or the API is unreachable for now.
  } finally {
    if (moving) {
      moving = false;
      notify();
    }
  }
}

const restored = restore();

export async function request(method, path, { body, query, auth = false, signal } = {}) {
  const url = buildUrl(path, query);
  if (!auth) return parse(await send(method, url, body, null, {}, signal));

  await restored;
  if (!accessToken) {
    if (!hasSession()) throw new AuthRequired(false);
    await renew(null);
  }
  const used = accessToken;
  let response = await send(method, url, body, used);
  if (response.status === 401) {
    await renew(used);
    response = await send(method, url, body, accessToken);
    if (response.status === 401) {
      signedOut();
      throw new AuthRequired(true);
    }
  }
  return parse(response);
}

// --- The calls the app makes ------------------------------------------------------------

export const api = {
  movies: (query) => request("GET", "/movies/", { query }),
  // Up to 8 {id, title, original_title, year} for what is typed so far.
  suggest: (q, signal) => request("GET", "/movies/suggest/", { query: { q }, signal }),
  movie: (id) => request("GET", `/movies/${encodeURIComponent(id)}/`),
  genres: () => request("GET", "/genres/"),
  genre: (id) => request("GET", `/genres/${encodeURIComponent(id)}/`),
  directors: () => request("GET", "/directors/"),
  director: (id) => request("GET", `/directors/${encodeURIComponent(id)}/`),

  async register(email, password) {
    return request("POST", "/auth/register/", { body: { email, password } });
  },
  async login(email, password) {
    const response = await send("POST", "/auth/login/", { email, password }, null, COOKIE_MODE);
    const { data } = await parse(response);
    signedIn(data.access_token);
    return data;
  },
  async logout() {
    try {
      await send("POST", "/auth/logout/", undefined, null, COOKIE_MODE);
    } catch {
      // Unreachable: the mark goes all the same (the cookie expires on its own).
    } finally {
      signedOut();
    }
  },

  profile: () => request("GET", "/user/", { auth: true }),
  updateProfile: (fields) => request("PATCH", "/user/", { body: fields, auth: true }),
  changePassword: (oldPassword, newPassword) =>
    request("PUT", "/user/password/", {
      body: { old_password: oldPassword, new_password: newPassword },
      auth: true,
    }),
  bookmarks: (page) => request("GET", "/favorites/movies/", { query: { page }, auth: true }),
  addBookmark: (id) => request("POST", `/favorites/movies/${encodeURIComponent(id)}/`, { auth: true }),
  removeBookmark: (id) =>
    request("DELETE", `/favorites/movies/${encodeURIComponent(id)}/`, { auth: true }),
  sessions: () => request("GET", "/user/sessions/", { auth: true }),
  endSession: (id) =>
    request("DELETE", `/user/sessions/${encodeURIComponent(id)}/`, { auth: true }),
  endOtherSessions: () => request("DELETE", "/user/sessions/", { auth: true }),
};
