"""Query-parameter models are read the short way (app.api.query_models), with FastAPI's outcome.

Every route of the API that takes a query model is checked: for each of the model's
parameters, given one value, an empty value, several values, beside another parameter or beside
an unknown one, the model (or the errors) read by `QueryModel` must be FastAPI's own.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
from typing import Any

import fastapi.dependencies.utils as fastapi_utils
import pytest
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from starlette.datastructures import QueryParams

import app.api.routes
from app.api.query_models import QueryModel, _model_of

# Values that each parameter is given in turn: a number, a negative and a fractional one, a
# word, an enumeration member, a boolean, a date, a list written with commas, and empty.
VALUES = ["3", "-1", "2.5", "ptsd", "PHASE3", "true", "2020-01-31", "arms,outcomes", ""]


def _routers() -> list[APIRouter]:
    """Every router of app.api.routes (as the modules declare them, before inclusion)."""
    found = []
    for module in pkgutil.iter_modules(app.api.routes.__path__):
        loaded = importlib.import_module(f"app.api.routes.{module.name}")
        found += [v for v in vars(loaded).values() if isinstance(v, APIRouter)]
    return found


def _query_model_fields() -> list[tuple[str, Any]]:
    found = []
    for router in _routers():
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            for field in route.dependant.query_params:
                if _model_of(field) is not None:
                    found.append((f"{sorted(route.methods)[0]} {route.path} {field.name}", field))
    return found


FIELDS = _query_model_fields()


def _queries(field: Any) -> list[str]:
    model = _model_of(field)
    assert model is not None
    names = list(QueryModel(model).several)
    out = [""]
    for name in names:
        out += [f"{name}={value}" for value in VALUES]
        out += [f"{name}=3&{name}=ptsd", f"{name}=PHASE3&{name}=PHASE2", f"{name}=&{name}=true",
                f"{name}=3&unknown_parameter=1"]
    for first, second in itertools.islice(itertools.combinations(names, 2), 40):
        out.append(f"{first}=3&{second}=PHASE3")
    out += ["unknown_parameter=1", "unknown_parameter=1&unknown_parameter=2"]
    return out


def _comparable(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors with their context as text (a validator's exception is a new object each time)."""
    return [{**e, "ctx": {k: str(v) for k, v in e["ctx"].items()}} if "ctx" in e else e
            for e in errors]


def _fastapi(field: Any, query: QueryParams) -> tuple[str, Any]:
    values, errors = fastapi_utils.request_params_to_args([field], query)
    if errors:
        return "errors", _comparable(errors)
    return "model", values[field.name].model_dump()


def _ours(field: Any, query: QueryParams) -> tuple[str, Any]:
    model = _model_of(field)
    assert model is not None
    try:
        return "model", QueryModel(model).read(query).model_dump()
    except RequestValidationError as exc:
        return "errors", _comparable(list(exc.errors()))


def test_every_query_model_route_is_checked():
    """The API's list, facet, synthesis and registry-compatible routes take query models;
    at least the study list and the facets must be among those compared below."""
    routes = {name.rsplit(" ", 1)[0] for name, _ in FIELDS}
    assert {"GET /studies", "GET /stats/facets", "GET /outcomes"} <= routes
    assert len(FIELDS) >= 20


@pytest.mark.parametrize(("name", "field"), FIELDS, ids=[name for name, _ in FIELDS])
def test_read_as_fastapi_reads_it(name, field):
    differing = []
    for raw in _queries(field):
        query = QueryParams(raw)
        theirs, ours = _fastapi(field, query), _ours(field, query)
        if theirs != ours:
            differing.append((raw, theirs, ours))
    assert not differing, f"{name}: {len(differing)} differ, first {differing[0]}"


def test_a_list_of_studies_is_not_read_field_by_field(client, monkeypatch):
    """A request to a route with a query model reads it with `QueryModel`, not FastAPI's
    field-by-field reading (which the route's OpenAPI entry still describes)."""
    calls: list[object] = []
    original = fastapi_utils._request_param_model_to_args

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(fastapi_utils, "_request_param_model_to_args", counted)
    assert client.get("/api/v1/studies", params={"phase": "PHASE3"}).status_code == 200
    refused = client.get("/api/v1/studies", params={"min_enrollment": "-1"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["query", "min_enrollment"]
    assert client.get("/api/v1/stats/facets", params={"min_enrollment": "5"}).status_code == 200
    assert calls == []
    parameters = client.get("/openapi.json").json()["paths"]["/api/v1/studies"]["get"][
        "parameters"]
    assert {"phase", "min_enrollment", "include", "page_size"} <= {p["name"] for p in parameters}
