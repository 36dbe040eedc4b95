"""A synthetic catalog of any size, for benchmarks (`catalog-service generate`).

Deterministic for a given seed. Titles are made of Russian words so that search,
case folding and sorting behave as they do on real data.
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

    def movie_records() -> Iterator[dict[str, Any]]:
        for i in range(1, movies + 1):
            title = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {i}"
            year = rng.randint(1920, 2025)
            yield {
                "id": i,
                "title": title,
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
