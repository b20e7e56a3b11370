"""Query-parameter models read from the query string the short way.

An endpoint parameter `params: Annotated[SomeParams, Query()]` documents each of the model's
fields as a query parameter. FastAPI also reads it field by field on every request: for each
of the model's fields it works out again, from the field's annotation, whether it takes one
value or several, then looks the field up in the query string. For the study filter's 30-odd
fields that took about seven times as long as validating the model itself (bench/README.md).

`QueryModel` works out what each field takes once, when the route is made, and reads a request
by going over the parameters the query string holds, usually a handful. The outcome is FastAPI's
(tests/test_query_models.py compares the two over every such route): a field of several values
gets every value given, a field of one value the last given, an empty list is no value, any
other parameter goes to the model as given (once: the value, several times: the list) for its
extra policy to accept or refuse, and errors are the model's, located under `query`.

`fast_dependant` hands the route's handler a copy of its dependant in which each such
parameter is read by an async dependency (on the event loop, as FastAPI reads it); the route's
own dependant, from which the OpenAPI document is drawn, is left as it is.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections import deque
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.exceptions import RequestValidationError
from fastapi.params import Query
from pydantic import AliasChoices, BaseModel, Json, ValidationError
from pydantic.fields import FieldInfo

_SEQUENCES = (list, set, frozenset, tuple, deque, Sequence)


def _takes_several(annotation: Any) -> bool:
    """Whether a field of this annotation takes every value of its parameter (a list, a set,
    a tuple, … or a union with one), as FastAPI decides it."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _takes_several(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(_takes_several(arg) for arg in typing.get_args(annotation))
    for candidate in (annotation, origin):
        if isinstance(candidate, type) and issubclass(candidate, _SEQUENCES) \
                and not issubclass(candidate, str | bytes):
            return True
    return False


def _names(name: str, info: FieldInfo, model: type[BaseModel]) -> list[str]:
    """The query parameters a field is read from, as the model validates them."""
    config = model.model_config
    if config.get("validate_by_alias") is False:
        return [name]
    alias = info.validation_alias
    names = [c for c in alias.choices if isinstance(c, str)] \
        if isinstance(alias, AliasChoices) else \
        [alias if isinstance(alias, str) else info.alias or name]
    if config.get("validate_by_name", config.get("populate_by_name", False)) \
            and name not in names:
        names.append(name)
    return names


class QueryModel:
    """How the query string fills one model: each parameter name -> whether it takes every
    value given (True) or the last (False)."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model
        self.several: dict[str, bool] = {}
        for name, info in model.model_fields.items():
            several = _takes_several(info.annotation) and \
                not any(type(m) is Json for m in info.metadata)
            for parameter in _names(name, info, model):
                self.several.setdefault(parameter, several)

    def values(self, query: Any) -> dict[str, Any]:
        """What the model is validated from: `query` is the request's query parameters."""
        given: dict[str, list[str]] = {}
        for name, value in query.multi_items():
            given.setdefault(name, []).append(value)
        out: dict[str, Any] = {}
        for name, values in given.items():
            several = self.several.get(name)
            if several is None:  # another parameter: the model's extra policy decides
                out[name] = values[0] if len(values) == 1 else values
            else:
                out[name] = values if several else values[-1]
        return out

    def read(self, query: Any) -> BaseModel:
        try:
            return self.model.model_validate(self.values(query))
        except ValidationError as exc:
            raise RequestValidationError([
                {**error, "loc": ("query", *error["loc"])}
                for error in exc.errors(include_url=False)]) from None


def _model_of(field: Any) -> type[BaseModel] | None:
    """The model a dependant's query field is, when it is one (`Annotated[Model, Query()]`)."""
    info = field.field_info
    annotation = info.annotation
    if isinstance(info, Query) and isinstance(annotation, type) \
            and issubclass(annotation, BaseModel) \
            and not any(type(m) is Json for m in info.metadata):
        return annotation
    return None


def _reader(model: type[BaseModel]) -> Callable[..., Any]:
    plan = QueryModel(model)

    async def read(request: Request) -> BaseModel:
        return plan.read(request.query_params)

    return read


def fast_dependant(dependant: Dependant) -> Dependant | None:
    """A copy of `dependant` whose query-parameter models are read by `QueryModel`; None when
    it has none."""
    models = [(field, _model_of(field)) for field in dependant.query_params]
    if not any(model for _, model in models):
        return None
    readers = [get_dependant(path=dependant.path or "", call=_reader(model), name=field.name)
               for field, model in models if model is not None]
    return dataclasses.replace(
        dependant,
        query_params=[field for field, model in models if model is None],
        dependencies=[*dependant.dependencies, *readers])
