// The one door to the API: every call goes through request().
// - Tokens live in localStorage (one JSON pair).
// - A 401 on an authorised call triggers one refresh of the token pair (PUT /auth/login/)
//   and one retry; a failed refresh clears the tokens and throws AuthRequired, which the
//   router turns into the login page.
// - Errors become ApiError with the API's own `message`, `code` and field `errors`.

const TOKENS_KEY = "kinoarchive.tokens";
const authListeners = new Set();

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

// --- Token storage --------------------------------------------------------------------

export function getTokens() {
  try {
    const pair = JSON.parse(localStorage.getItem(TOKENS_KEY) || "null");
    return pair && pair.access_token && pair.refresh_token ? pair : null;
  } catch {
    return null;
  }
}

function setTokens(pair) {
  localStorage.setItem(
    TOKENS_KEY,
    JSON.stringify({ access_token: pair.access_token, refresh_token: pair.refresh_token }),
  );
  notify();
}

export function clearTokens() {
  const had = localStorage.getItem(TOKENS_KEY) !== null;
  localStorage.removeItem(TOKENS_KEY);
  if (had) notify();
}

export function isLoggedIn() {
  return getTokens() !== null;
}

export function onAuthChange(fn) {
  authListeners.add(fn);
}

function notify() {
  for (const fn of authListeners) fn(isLoggedIn());
}

// Another tab logged in or out.
window.addEventListener("storage", (event) => {
  if (event.key === TOKENS_KEY) notify();
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

async function send(method, url, body, accessToken) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  try {
    return await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
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

// An access token is sent along with the refresh token only when it is a readable JWT
// (it may be expired: the auth service checks that both belong to one person). Garbage
// in storage is left out, so that it does not spoil an otherwise valid refresh.
function readableAccessToken(token) {
  try {
    const payload = token.split(".")[1];
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json).type === "access";
  } catch {
    return false;
  }
}

let refreshing = null;

async function refreshOnce(staleAccessToken) {
  const pair = getTokens();
  if (!pair) throw new AuthRequired(true);
  // Another call (or tab) has already renewed the pair: use it.
  if (pair.access_token !== staleAccessToken) return;
  const body = { refresh_token: pair.refresh_token };
  if (readableAccessToken(pair.access_token)) body.access_token = pair.access_token;
  const response = await send("PUT", "/auth/login/", body, null);
  if (!response.ok) {
    clearTokens();
    throw new AuthRequired(true);
  }
  setTokens(await response.json());
}

// One refresh at a time, across tabs where the browser has Web Locks (a refresh token
// is single use: presenting it twice would revoke the whole session).
function refresh(staleAccessToken) {
  if (!refreshing) {
    const run = () => refreshOnce(staleAccessToken);
    const locked =
      navigator.locks && navigator.locks.request
        ? navigator.locks.request("kinoarchive-refresh", run)
        : run();
    refreshing = locked.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

export async function request(method, path, { body, query, auth = false } = {}) {
  const url = buildUrl(path, query);
  if (!auth) return parse(await send(method, url, body, null));

  const pair = getTokens();
  if (!pair) throw new AuthRequired(false);
  let response = await send(method, url, body, pair.access_token);
  if (response.status === 401) {
    await refresh(pair.access_token);
    const renewed = getTokens();
    if (!renewed) throw new AuthRequired(true);
    response = await send(method, url, body, renewed.access_token);
    if (response.status === 401) {
      clearTokens();
      throw new AuthRequired(true);
    }
  }
  return parse(response);
}

// --- The calls the app makes ------------------------------------------------------------

export const api = {
  movies: (query) => request("GET", "/movies/", { query }),
  movie: (id) => request("GET", `/movies/${encodeURIComponent(id)}/`),
  genres: () => request("GET", "/genres/"),
  genre: (id) => request("GET", `/genres/${encodeURIComponent(id)}/`),
  directors: () => request("GET", "/directors/"),
  director: (id) => request("GET", `/directors/${encodeURIComponent(id)}/`),

  async register(email, password) {
    return request("POST", "/auth/register/", { body: { email, password } });
  },
  async login(email, password) {
    const { data } = await request("POST", "/auth/login/", { body: { email, password } });
    setTokens(data);
    return data;
  },
  async logout() {
    const pair = getTokens();
    try {
      if (pair) await request("POST", "/auth/logout/", { body: { refresh_token: pair.refresh_token } });
    } catch {
      // The token may be revoked already (a password change): logging out goes on.
    } finally {
      clearTokens();
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
};
