// Russian by default, English on request; the choice lives in localStorage.

const KEY = "kinoarchive.lang";
const listeners = new Set();

const ru = {
  "app.name": "Киноархив",
  "app.tagline": "Каталог фильмов",
  "skip": "Перейти к содержимому",
  "nav.main": "Основное меню",
  "nav.menu": "Меню",
  "nav.crumbs": "Навигационная цепочка",
  "nav.home": "Главная",
  "nav.catalog": "Каталог",
  "nav.genres": "Жанры",
  "nav.directors": "Режиссёры",
  "nav.bookmarks": "Закладки",
  "nav.profile": "Профиль",
  "nav.login": "Войти",
  "nav.register": "Регистрация",
  "nav.logout": "Выйти",
  "lang.switch": "English",
  "lang.switchLabel": "Switch to English",
  "footer.text": "Киноархив — учебный каталог фильмов. Данные из открытого API.",
  "footer.api": "API: /movies/, /genres/, /directors/",
  "loading": "Загрузка…",
  "loaded": "Страница загружена: {title}",
  "error.title": "Что-то пошло не так",
  "error.network": "Нет связи с сервером. Проверьте подключение и попробуйте ещё раз.",
  "error.generic": "Сервер ответил ошибкой ({status}).",
  "error.retry": "Попробовать ещё раз",
  "notFound.title": "Страница не найдена",
  "notFound.text": "Такой страницы нет. Возможно, ссылка устарела.",
  "notFound.home": "На главную",
  "session.expired": "Сессия истекла. Войдите снова.",
  "session.required": "Войдите, чтобы открыть эту страницу.",
  "session.loggedOut": "Вы вышли из аккаунта.",
  "home.title": "Главная",
  "home.lead": "Классика и новинки: описания, режиссёры, трейлеры. Собирайте свои закладки.",
  "home.searchLabel": "Поиск фильма по названию",
  "home.searchPlaceholder": "Название фильма",
  "home.search": "Найти",
  "home.newest": "Новинки",
  "home.allMovies": "Весь каталог",
  "home.genres": "Жанры",
  "home.stats": "{movies} в каталоге · {genres}",
  "catalog.title": "Каталог",
  "catalog.titlePage": "Каталог, страница {page}",
  "catalog.filters": "Фильтры",
  "catalog.q": "Название",
  "catalog.qPlaceholder": "Поиск по названию",
  "catalog.genre": "Жанр",
  "catalog.director": "Режиссёр",
  "catalog.year": "Год",
  "catalog.yearPlaceholder": "Любой",
  "catalog.sort": "Порядок",
  "catalog.sortDefault": "По порядку",
  "catalog.sortNew": "Сначала новые",
  "catalog.any": "Любой",
  "catalog.apply": "Показать",
  "catalog.reset": "Сбросить",
  "search.label": "Поиск фильмов",
  "search.placeholder": "Название или режиссёр",
  "search.submit": "Найти",
  "search.suggestions": "Подсказки",
  "search.none": "Подсказок нет",
  "catalog.searchResults": "Результаты поиска «{q}»",
  "catalog.results": "Фильмы",
  "catalog.genres": "Жанры",
  "catalog.yearFrom": "Год с",
  "catalog.yearTo": "Год по",
  "catalog.ratingMin": "Рейтинг от",
  "catalog.sortRelevance": "Сначала лучшие совпадения",
  "catalog.sortRating": "По рейтингу",
  "catalog.sortYear": "По году",
  "catalog.sortTitle": "По названию",
  "catalog.direction": "Направление",
  "catalog.desc": "По убыванию",
  "catalog.asc": "По возрастанию",
  "apiError.bad_request": "Сервер не смог прочитать запрос.",
  "apiError.wrong_password": "Текущий пароль неверен.",
  "apiError.unauthorized": "Войдите, чтобы продолжить.",
  "apiError.invalid_credentials": "Неверная электронная почта или пароль.",
  "apiError.invalid_token": "Сессия недействительна. Войдите снова.",
  "apiError.cross_site_request": "Запрос с другого сайта отклонён.",
  "apiError.not_found": "Ничего не найдено по этому адресу.",
  "apiError.method_not_allowed": "Этот запрос не поддерживается.",
  "apiError.email_taken": "Аккаунт с такой почтой уже есть.",
  "apiError.payload_too_large": "Слишком большой запрос.",
  "apiError.uri_too_long": "Слишком длинный адрес запроса.",
  "apiError.unsupported_media_type": "Сервер не принимает данные в таком формате.",
  "apiError.validation_error": "Проверьте введённые значения.",
  "apiError.invalid_sort": "Такого порядка сортировки нет.",
  "apiError.rate_limited": "Слишком много попыток. Подождите немного и повторите.",
  "apiError.internal_error": "Ошибка на сервере. Мы уже знаем о ней; попробуйте позже.",
  "apiError.service_unavailable": "Сервис временно недоступен. Попробуйте позже.",
  "apiError.gateway_timeout": "Сервер не ответил вовремя. Попробуйте ещё раз.",
  "fieldError.required": "Обязательное поле.",
  "fieldError.integer": "Введите целое число.",
  "fieldError.number": "Введите число.",
  "fieldError.min": "Значение должно быть не меньше {limit}.",
  "fieldError.max": "Значение должно быть не больше {limit}.",
  "fieldError.minLength": "Не короче {limit} символов.",
  "fieldError.maxLength": "Не длиннее {limit} символов.",
  "fieldError.email": "Неверный адрес электронной почты.",
  "fieldError.sort": "Допустимые значения: {allowed}.",
  "fieldError.invalid": "Недопустимое значение.",
  "catalog.empty": "Ничего не нашлось. Попробуйте изменить фильтры.",
  "pager.label": "Страницы",
  "pager.prev": "Назад",
  "pager.next": "Вперёд",
  "pager.page": "Страница {page}",
  "pager.of": "Страница {page} из {pages}",
  "movie.rating": "Рейтинг {rating}",
  "movie.year": "Год",
  "movie.genre": "Жанр",
  "movie.director": "Режиссёр",
  "movie.trailer": "Трейлер",
  "movie.trailerLink": "Трейлер на YouTube",
  "movie.trailerFrame": "Трейлер: {title}",
  "movie.noTrailer": "Трейлера пока нет.",
  "movie.noDescription": "Описания пока нет.",
  "movie.bookmark": "Добавить в закладки",
  "movie.bookmarked": "В закладках",
  "movie.bookmarkAdded": "Фильм добавлен в закладки.",
  "movie.bookmarkRemoved": "Фильм убран из закладок.",
  "movie.loginToBookmark": "Войдите, чтобы добавлять фильмы в закладки",
  "movie.more": "Ещё фильмы жанра «{genre}»",
  "genres.title": "Жанры",
  "genres.lead": "Выберите жанр, чтобы увидеть его фильмы.",
  "directors.title": "Режиссёры",
  "directors.lead": "Выберите режиссёра, чтобы увидеть его фильмы.",
  "genre.kicker": "Жанр",
  "director.kicker": "Режиссёр",
  "list.empty": "Здесь пока нет фильмов.",
  "register.title": "Регистрация",
  "register.lead": "Аккаунт нужен для профиля и закладок.",
  "register.submit": "Зарегистрироваться",
  "register.haveAccount": "Уже есть аккаунт?",
  "register.done": "Аккаунт создан. Добро пожаловать!",
  "login.title": "Вход",
  "login.lead": "Войдите, чтобы видеть профиль и закладки.",
  "login.submit": "Войти",
  "login.noAccount": "Ещё нет аккаунта?",
  "field.email": "Электронная почта",
  "field.password": "Пароль",
  "field.passwordHint": "Не короче 8 символов.",
  "field.password2": "Повторите пароль",
  "field.mismatch": "Пароли не совпадают.",
  "field.oldPassword": "Текущий пароль",
  "field.newPassword": "Новый пароль",
  "field.newPassword2": "Повторите новый пароль",
  "field.name": "Имя",
  "field.surname": "Фамилия",
  "field.favouriteGenre": "Любимый жанр",
  "field.noGenre": "Не выбран",
  "form.sending": "Отправляем…",
  "form.fix": "Проверьте форму.",
  "profile.title": "Профиль",
  "profile.save": "Сохранить",
  "profile.details": "Личные данные",
  "profile.saved": "Профиль сохранён.",
  "profile.account": "Аккаунт",
  "profile.changePassword": "Сменить пароль",
  "profile.bookmarks": "Мои закладки",
  "profile.favouriteMovies": "Фильмы жанра «{genre}»",
  "sessions.title": "Сеансы",
  "sessions.lead": "Устройства и программы, в которых выполнен вход в аккаунт. Завершённый сеанс больше не продлевается; его открытые страницы перестанут работать в течение 15 минут.",
  "sessions.current": "Этот сеанс",
  "sessions.details": "Адрес: {address} · вход: {created} · активность: {used}",
  "sessions.unknownDevice": "Неизвестное устройство",
  "sessions.unknownAddress": "неизвестен",
  "sessions.end": "Завершить",
  "sessions.endLabel": "Завершить сеанс: {device}",
  "sessions.endOthers": "Завершить все остальные сеансы",
  "sessions.ended": "Сеанс завершён.",
  "sessions.endedOthers": "Остальные сеансы завершены.",
  "sessions.none": "Активных сеансов нет.",
  "password.title": "Смена пароля",
  "password.lead": "После смены пароля понадобится войти заново на всех устройствах.",
  "password.submit": "Сменить пароль",
  "password.done": "Пароль изменён.",
  "bookmarks.title": "Мои закладки",
  "bookmarks.titlePage": "Мои закладки, страница {page}",
  "bookmarks.empty": "Закладок пока нет. Откройте фильм в каталоге и нажмите «Добавить в закладки».",
  "bookmarks.toCatalog": "Перейти в каталог",
  "bookmarks.remove": "Убрать",
  "bookmarks.removeLabel": "Убрать «{title}» из закладок",
  "bookmarks.count": "В закладках: {count}",
};

const en = {
  "app.name": "Kinoarchive",
  "app.tagline": "Movie catalog",
  "skip": "Skip to content",
  "nav.main": "Main menu",
  "nav.menu": "Menu",
  "nav.crumbs": "Breadcrumbs",
  "nav.home": "Home",
  "nav.catalog": "Catalog",
  "nav.genres": "Genres",
  "nav.directors": "Directors",
  "nav.bookmarks": "Bookmarks",
  "nav.profile": "Profile",
  "nav.login": "Log in",
  "nav.register": "Sign up",
  "nav.logout": "Log out",
  "lang.switch": "Русский",
  "lang.switchLabel": "Переключить на русский",
  "footer.text": "Kinoarchive — a course's movie catalog. Data from the open API.",
  "footer.api": "API: /movies/, /genres/, /directors/",
  "loading": "Loading…",
  "loaded": "Page loaded: {title}",
  "error.title": "Something went wrong",
  "error.network": "The server cannot be reached. Check the connection and try again.",
  "error.generic": "The server answered with an error ({status}).",
  "error.retry": "Try again",
  "notFound.title": "Page not found",
  "notFound.text": "There is no such page. The link may be outdated.",
  "notFound.home": "Go home",
  "session.expired": "Your session has expired. Please log in again.",
  "session.required": "Log in to open this page.",
  "session.loggedOut": "You have logged out.",
  "home.title": "Home",
  "home.lead": "Classics and new releases: plots, directors, trailers. Keep your own bookmarks.",
  "home.searchLabel": "Search a film by title",
  "home.searchPlaceholder": "Film title",
  "home.search": "Search",
  "home.newest": "New releases",
  "home.allMovies": "Whole catalog",
  "home.genres": "Genres",
  "home.stats": "{movies} in the catalog · {genres}",
  "catalog.title": "Catalog",
  "catalog.titlePage": "Catalog, page {page}",
  "catalog.filters": "Filters",
  "catalog.q": "Title",
  "catalog.qPlaceholder": "Search by title",
  "catalog.genre": "Genre",
  "catalog.director": "Director",
  "catalog.year": "Year",
  "catalog.yearPlaceholder": "Any",
  "catalog.sort": "Order",
  "catalog.sortDefault": "Default",
  "catalog.sortNew": "Newest first",
  "catalog.any": "Any",
  "catalog.apply": "Show",
  "catalog.reset": "Reset",
  "search.label": "Search films",
  "search.placeholder": "Title or director",
  "search.submit": "Search",
  "search.suggestions": "Suggestions",
  "search.none": "No suggestions",
  "catalog.searchResults": "Search results for “{q}”",
  "catalog.results": "Films",
  "catalog.genres": "Genres",
  "catalog.yearFrom": "Year from",
  "catalog.yearTo": "Year to",
  "catalog.ratingMin": "Minimum rating",
  "catalog.sortRelevance": "Best match first",
  "catalog.sortRating": "By rating",
  "catalog.sortYear": "By year",
  "catalog.sortTitle": "By title",
  "catalog.direction": "Direction",
  "catalog.desc": "Descending",
  "catalog.asc": "Ascending",
  "apiError.bad_request": "The server could not read the request.",
  "apiError.wrong_password": "The current password is wrong.",
  "apiError.unauthorized": "Please log in to continue.",
  "apiError.invalid_credentials": "The email or the password is wrong.",
  "apiError.invalid_token": "The session is no longer valid. Please log in again.",
  "apiError.cross_site_request": "A request from another site was refused.",
  "apiError.not_found": "Nothing was found at this address.",
  "apiError.method_not_allowed": "This request is not supported.",
  "apiError.email_taken": "An account with this email already exists.",
  "apiError.payload_too_large": "The request is too large.",
  "apiError.uri_too_long": "The request address is too long.",
  "apiError.unsupported_media_type": "The server does not accept data in this format.",
  "apiError.validation_error": "Please check the values entered.",
  "apiError.invalid_sort": "There is no such sort order.",
  "apiError.rate_limited": "Too many attempts. Please wait a little and try again.",
  "apiError.internal_error": "Something broke on the server. Please try again later.",
  "apiError.service_unavailable": "The service is unavailable for now. Please try again later.",
  "apiError.gateway_timeout": "The server did not answer in time. Please try again.",
  "fieldError.required": "This field is required.",
  "fieldError.integer": "Enter a whole number.",
  "fieldError.number": "Enter a number.",
  "fieldError.min": "The value must be at least {limit}.",
  "fieldError.max": "The value must be at most {limit}.",
  "fieldError.minLength": "At least {limit} characters.",
  "fieldError.maxLength": "At most {limit} characters.",
  "fieldError.email": "The email address is not valid.",
  "fieldError.sort": "Allowed values: {allowed}.",
  "fieldError.invalid": "The value is not valid.",
  "catalog.empty": "Nothing found. Try other filters.",
  "pager.label": "Pages",
  "pager.prev": "Previous",
  "pager.next": "Next",
  "pager.page": "Page {page}",
  "pager.of": "Page {page} of {pages}",
  "movie.rating": "Rating {rating}",
  "movie.year": "Year",
  "movie.genre": "Genre",
  "movie.director": "Director",
  "movie.trailer": "Trailer",
  "movie.trailerLink": "Trailer on YouTube",
  "movie.trailerFrame": "Trailer: {title}",
  "movie.noTrailer": "No trailer yet.",
  "movie.noDescription": "No description yet.",
  "movie.bookmark": "Add to bookmarks",
  "movie.bookmarked": "Bookmarked",
  "movie.bookmarkAdded": "The film is bookmarked.",
  "movie.bookmarkRemoved": "The bookmark is removed.",
  "movie.loginToBookmark": "Log in to bookmark films",
  "movie.more": "More films of the genre “{genre}”",
  "genres.title": "Genres",
  "genres.lead": "Choose a genre to see its films.",
  "directors.title": "Directors",
  "directors.lead": "Choose a director to see their films.",
  "genre.kicker": "Genre",
  "director.kicker": "Director",
  "list.empty": "No films here yet.",
  "register.title": "Sign up",
  "register.lead": "An account keeps your profile and bookmarks.",
  "register.submit": "Create account",
  "register.haveAccount": "Already have an account?",
  "register.done": "Your account is ready. Welcome!",
  "login.title": "Log in",
  "login.lead": "Log in to see your profile and bookmarks.",
  "login.submit": "Log in",
  "login.noAccount": "No account yet?",
  "field.email": "Email",
  "field.password": "Password",
  "field.passwordHint": "At least 8 characters.",
  "field.password2": "Repeat the password",
  "field.mismatch": "The passwords do not match.",
  "field.oldPassword": "Current password",
  "field.newPassword": "New password",
  "field.newPassword2": "Repeat the new password",
  "field.name": "First name",
  "field.surname": "Surname",
  "field.favouriteGenre": "Favourite genre",
  "field.noGenre": "Not chosen",
  "form.sending": "Sending…",
  "form.fix": "Please check the form.",
  "profile.title": "Profile",
  "profile.save": "Save",
  "profile.details": "Personal details",
  "profile.saved": "The profile is saved.",
  "profile.account": "Account",
  "profile.changePassword": "Change password",
  "profile.bookmarks": "My bookmarks",
  "profile.favouriteMovies": "Films of the genre “{genre}”",
  "sessions.title": "Sessions",
  "sessions.lead": "The devices and programs signed in to this account. An ended session is not renewed again; its open pages stop working within 15 minutes.",
  "sessions.current": "This session",
  "sessions.details": "Address: {address} · signed in: {created} · last active: {used}",
  "sessions.unknownDevice": "Unknown device",
  "sessions.unknownAddress": "unknown",
  "sessions.end": "End",
  "sessions.endLabel": "End the session: {device}",
  "sessions.endOthers": "End every other session",
  "sessions.ended": "The session is ended.",
  "sessions.endedOthers": "The other sessions are ended.",
  "sessions.none": "No active sessions.",
  "password.title": "Change password",
  "password.lead": "After the change you will have to log in again on every device.",
  "password.submit": "Change password",
  "password.done": "The password is changed.",
  "bookmarks.title": "My bookmarks",
  "bookmarks.titlePage": "My bookmarks, page {page}",
  "bookmarks.empty": "No bookmarks yet. Open a film in the catalog and press “Add to bookmarks”.",
  "bookmarks.toCatalog": "Open the catalog",
  "bookmarks.remove": "Remove",
  "bookmarks.removeLabel": "Remove “{title}” from bookmarks",
  "bookmarks.count": "Bookmarked: {count}",
};

const plurals = {
  ru: {
    film: ["фильм", "фильма", "фильмов"],
    genre: ["жанр", "жанра", "жанров"],
  },
  en: {
    film: ["film", "films"],
    genre: ["genre", "genres"],
  },
};

// Whole sentences that agree with a number ({n} is the number), by the same plural rules.
const phrases = {
  ru: {
    found: ["Найден {n} фильм", "Найдено {n} фильма", "Найдено {n} фильмов"],
    suggestions: ["{n} подсказка", "{n} подсказки", "{n} подсказок"],
  },
  en: {
    found: ["{n} film found", "{n} films found"],
    suggestions: ["{n} suggestion", "{n} suggestions"],
  },
};

const dictionaries = { ru, en };

function stored() {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

let lang = stored() === "en" ? "en" : "ru";

export function getLang() {
  return lang;
}

export function setLang(next) {
  lang = next === "en" ? "en" : "ru";
  try {
    localStorage.setItem(KEY, lang);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  document.documentElement.lang = lang;
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.add(fn);
}

export function t(key, vars = {}) {
  const text = dictionaries[lang][key] ?? ru[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

// Which of a word's forms goes with n: English has two (1 / other), Russian three
// (1, 21 / 2-4, 22-24 / 0, 5-20, 25-30, 11-14).
function pluralForm(n, forms) {
  if (lang === "en") return n === 1 ? forms[0] : forms[1];
  const mod10 = n % 10;
  const mod100 = n % 100;
  if (mod10 === 1 && mod100 !== 11) return forms[0];
  if (mod10 >= 2 && mod10 <= 4 && (mod100 < 12 || mod100 > 14)) return forms[1];
  return forms[2];
}

// "5 фильмов", "21 фильм", "1 film", "2 films".
export function count(n, noun) {
  return `${n} ${pluralForm(n, plurals[lang][noun])}`;
}

// A sentence that agrees with n: "Найдено 12 фильмов", "Найден 21 фильм", "1 film found".
export function phrase(n, key) {
  return pluralForm(n, phrases[lang][key]).replace("{n}", String(n));
}

// An API error in the interface's language, chosen by its `code`; a code this table does
// not know gets the generic sentence with the status.
export function apiErrorText(code, status) {
  const key = `apiError.${code}`;
  return key in dictionaries[lang] ? t(key) : t("error.generic", { status });
}

// The API's field messages (pydantic's English sentences and the catalog's own) in the
// interface's language; one it does not recognise becomes a plain "not valid".
const FIELD_MESSAGES = [
  [/field required|missing/i, "fieldError.required"],
  [/valid integer|whole number/i, "fieldError.integer"],
  [/valid number|valid decimal|finite number/i, "fieldError.number"],
  [/greater than or equal to (-?[\d.]+)/i, "fieldError.min"],
  [/greater than (-?[\d.]+)/i, "fieldError.min"],
  [/less than or equal to (-?[\d.]+)/i, "fieldError.max"],
  [/less than (-?[\d.]+)/i, "fieldError.max"],
  [/at least (\d+) characters?/i, "fieldError.minLength"],
  [/at most (\d+) characters?/i, "fieldError.maxLength"],
  [/email/i, "fieldError.email"],
];

export function fieldErrorText(message) {
  const text = String(message || "");
  const sort = text.match(/(?:allowed|one of|expected)[^:]*:\s*(.+?)\.?$/i);
  if (sort) return t("fieldError.sort", { allowed: sort[1] });
  for (const [pattern, key] of FIELD_MESSAGES) {
    const found = text.match(pattern);
    if (found) return t(key, { limit: found[1] ?? "" });
  }
  // The API speaks English: in the English interface its own sentence says more.
  if (lang === "en" && text) return text.replace(/^Value error,\s*/i, "");
  return t("fieldError.invalid");
}
