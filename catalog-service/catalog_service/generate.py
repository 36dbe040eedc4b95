"""A synthetic catalog of any size, for benchmarks (`catalog-service generate`).

Deterministic for a given seed. Titles are made of Russian words so that search,
case folding and sorting behave as they do on real data. Original titles are shared out
as in a Russian catalog: most films are foreign, with an English original (the Russian
title's words translated) or, for some, a French, Spanish, Italian or German one with its
diacritics; the Russian-made ones keep their Russian title; a few are unknown (null).
"""

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote_plus

_ADJECTIVES = (
    "Тёмный",
    "Последний",
    "Северный",
    "Тихий",
    "Дикий",
    "Золотой",
    "Ночной",
    "Белый",
    "Красный",
    "Забытый",
    "Вечный",
    "Далёкий",
    "Звёздный",
    "Ледяной",
    "Огненный",
    "Старый",
)
_NOUNS = (
    "город",
    "берег",
    "ветер",
    "поезд",
    "океан",
    "сад",
    "остров",
    "маяк",
    "лес",
    "путь",
    "рассвет",
    "горизонт",
    "дом",
    "мост",
    "перевал",
    "караван",
)
# The same words in English, in the same order: a foreign film's original title.
_ENGLISH_ADJECTIVES = (
    "Dark",
    "Last",
    "Northern",
    "Quiet",
    "Wild",
    "Golden",
    "Night",
    "White",
    "Red",
    "Forgotten",
    "Eternal",
    "Distant",
    "Starry",
    "Icy",
    "Fiery",
    "Old",
)
_ENGLISH_NOUNS = (
    "City",
    "Shore",
    "Wind",
    "Train",
    "Ocean",
    "Garden",
    "Island",
    "Lighthouse",
    "Forest",
    "Road",
    "Dawn",
    "Horizon",
    "House",
    "Bridge",
    "Pass",
    "Caravan",
)
# Originals in other European languages, unrelated to the Russian title (as «Амели» is to
# its original), with the diacritics that search has to see past.
_EUROPEAN_TITLES = (
    "La Forêt",
    "Le Château",
    "L'Été indien",
    "Mémoires d'un rêve",
    "La Rivière",
    "El Camino",
    "La Canción",
    "Mañana",
    "Años de niebla",
    "Il Mare",
    "La Città",
    "Perché no",
    "Die Brücke",
    "Über den Wolken",
    "Nächte im Süden",
    "Grüße aus Köln",
)
# The shares of each kind of original title, out of 100.
_RUSSIAN_MADE = 25
_ENGLISH = 60
_EUROPEAN = 8  # the rest (7) unknown

_GENRES = (
    "Драма",
    "Комедия",
    "Фантастика",
    "Триллер",
    "Боевик",
    "Мелодрама",
    "Ужасы",
    "Мультфильм",
    "Приключения",
    "Детектив",
    "Военный",
    "Фэнтези",
    "Криминал",
    "Вестерн",
    "Мюзикл",
    "Документальный",
    "Биография",
    "Исторический",
    "Семейный",
    "Спорт",
)
_FIRST = (
    "Анна",
    "Иван",
    "Мария",
    "Пётр",
    "Ольга",
    "Сергей",
    "Елена",
    "Дмитрий",
    "Ирина",
    "Алексей",
)
_LAST = ("Орлов", "Смирнова", "Кузнецов", "Волкова", "Соколов", "Лебедева", "Морозов", "Новикова")


def synthetic_catalog(
    movies: int, *, directors: int = 2000, seed: int = 1
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Iterator[dict[str, Any]]]:
    rng = random.Random(seed)  # noqa: S311  (test data, not secrets)
    genres = [{"id": i, "name": name} for i, name in enumerate(_GENRES, start=1)]
    people = [
        {"id": i, "name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)} {i}"}
        for i in range(1, directors + 1)
    ]

    # Original titles draw from a generator of their own, so that every other field is
    # what it was before they existed (benchmarks name generated titles).
    origins = random.Random(f"original titles {seed}")  # noqa: S311

    def original_title(title: str, adjective: int, noun: int, i: int) -> str | None:
        kind = origins.randrange(100)
        if kind < _RUSSIAN_MADE:
            return title
        if kind < _RUSSIAN_MADE + _ENGLISH:
            return f"{_ENGLISH_ADJECTIVES[adjective]} {_ENGLISH_NOUNS[noun]} {i}"
        if kind < _RUSSIAN_MADE + _ENGLISH + _EUROPEAN:
            return f"{origins.choice(_EUROPEAN_TITLES)} {i}"
        return None

    def movie_records() -> Iterator[dict[str, Any]]:
        for i in range(1, movies + 1):
            adjective, noun = rng.randrange(len(_ADJECTIVES)), rng.randrange(len(_NOUNS))
            title = f"{_ADJECTIVES[adjective]} {_NOUNS[noun]} {i}"
            year = rng.randint(1920, 2025)
            yield {
                "id": i,
                "title": title,
                "original_title": original_title(title, adjective, noun, i),
                "description": f"Синтетический фильм номер {i} для нагрузочных тестов.",
                "trailer": "https://www.youtube.com/results?search_query="
                + quote_plus(f"{title} {year} трейлер"),
                "year": year,
                "rating": round(rng.uniform(3.0, 9.5), 1),
                "genre_id": rng.randint(1, len(genres)),
                "director_id": rng.randint(1, directors),
            }

    return genres, people, movie_records()


def write_catalog(out: TextIO, movies: int, *, directors: int = 2000, seed: int = 1) -> None:
    """Stream the catalog as JSON: memory stays flat whatever the size."""
    genres, people, records = synthetic_catalog(
        movies, directors=min(directors, movies or 1), seed=seed
    )

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    out.write('{\n"genres": ' + dump(genres) + ',\n"directors": ' + dump(people))
    out.write(',\n"movies": [')
    for index, record in enumerate(records):
        out.write(("\n" if index == 0 else ",\n") + dump(record))
    out.write("\n]}\n")


def generate_file(path: Path, movies: int, *, directors: int = 2000, seed: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        write_catalog(out, movies, directors=directors, seed=seed)
