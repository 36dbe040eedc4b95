// Russian by default, English on request; the choice lives in localStorage.

const KEY = "kinoarchive.lang";
const listeners = new Set();

const ru = {
  "app.name": "Киноархив",
  "app.tagline": "Каталог фильмов",
  "skip": "Перейти к содержимому",
  "nav.main": "Основное меню",
  "nav.menu": "Меню",
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
  "catalog.found": "Найдено: {count}",
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
  "catalog.found": "Found: {count}",
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

// "5 фильмов", "21 фильм", "1 film", "2 films".
export function count(n, noun) {
  const forms = plurals[lang][noun];
  if (lang === "en") return `${n} ${n === 1 ? forms[0] : forms[1]}`;
  const mod10 = n % 10;
  const mod100 = n % 100;
  let form = forms[2];
  if (mod10 === 1 && mod100 !== 11) form = forms[0];
  else if (mod10 >= 2 && mod10 <= 4 && (mod100 < 12 || mod100 > 14)) form = forms[1];
  return `${n} ${form}`;
}
