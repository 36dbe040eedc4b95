"""JSON answers encoded by pydantic-core, which FastAPI already brings.

The bytes are those of Starlette's `JSONResponse` (compact, UTF-8 as it is) for every
value our routes send; a float may be written in a shorter form (`1e-7` for `1e-07`),
and a NaN or an infinity becomes null instead of an error. A page of twelve movies
encodes in 10 us instead of 44 us (bench/).
"""

from typing import Any

import pydantic_core
from starlette.responses import JSONResponse as StarletteJSONResponse


def encode_json(content: Any) -> bytes:
    return pydantic_core.to_json(content, inf_nan_mode="null")


class JSONResponse(StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return encode_json(content)
