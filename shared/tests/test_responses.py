"""Our JSON answers are the bytes Starlette would send, made by pydantic-core."""

import json
import math

import pytest
from starlette.responses import JSONResponse as StarletteJSONResponse

from shared.responses import JSONResponse, encode_json

MOVIE = {
    "id": 7,
    "title": 'Ёлки «в кавычках» "и" \\ слэш',
    "description": "Строка\nс переводом, табуляцией\t и \u2028 разделителем, и эмодзи 🎬",
    "trailer": "https://www.youtube.com/results?search_query=%D1%91&x=<b>",
    "year": 2010,
    "rating": 7.5,
    "genre_id": 1,
    "director_id": None,
    "genre": {"id": 1, "name": "Драма"},
    "director": {"id": 2, "name": "\x01 control"},
}


@pytest.mark.parametrize(
    "content",
    [MOVIE, [MOVIE, MOVIE], [], {}, {"message": "x", "errors": [{"field": "q"}]}, 2**40, True],
)
def test_the_same_bytes_as_starlette(content: object) -> None:
    assert JSONResponse(content).body == StarletteJSONResponse(content).body


def test_floats_keep_their_value() -> None:
    values = [0.1, 1e-7, 1e16, 123456.789, -0.0]
    assert json.loads(encode_json(values)) == values


def test_a_nan_is_null_not_an_error() -> None:
    assert encode_json([math.nan, math.inf]) == b"[null,null]"
