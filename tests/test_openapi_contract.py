"""The OpenAPI document and the server agree: what the document allows is accepted, what it
refuses is refused, and every part of the document can be read."""

from __future__ import annotations

import pytest

API = "/api/v1"
NUL_FREE = "^[^\\u0000]*$"


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _query_parameters(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    yield method.upper(), path, parameter


def _options(schema):
    return [*schema.get("anyOf", []), schema]


def test_every_reference_in_the_document_resolves(client):
    document = client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    refs = [node["$ref"] for node in _walk(document) if "$ref" in node]
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in components, ref


@pytest.mark.parametrize("method,path,allowed", [
    ("OPTIONS", f"{API}/studies/NCT00090064", {"GET", "HEAD", "PUT", "PATCH", "DELETE"}),
    ("OPTIONS", f"{API}/keys", {"GET", "HEAD", "POST"}),
    ("TRACE", f"{API}/studies", {"GET", "HEAD", "POST"}),
    ("POST", f"{API}/outcomes", {"GET", "HEAD"}),
])
def test_method_not_allowed_names_every_method_the_path_serves(client, method, path, allowed):
    response = client.request(method, path)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


@pytest.mark.parametrize("url,name", [
    (f"{API}/studies?min_enrollment=5&min_enrollment=500", "min_enrollment"),
    (f"{API}/stats/facets?min_follow_up_months=1&min_follow_up_months=2", "min_follow_up_months"),
    (f"{API}/studies/NCT00090064/history?page_size=1&page_size=2", "page_size"),
    (f"{API}/meta-analysis?instrument=CAPS-5&model=fixed&model=random", "model"),
])
def test_a_one_value_parameter_given_twice_is_refused(client, url, name):
    response = client.get(url)
    assert response.status_code == 422, response.text
    assert ["query", name] in [e["loc"] for e in response.json()["errors"]]


def test_a_list_parameter_takes_repeats(client):
    both = client.get(f"{API}/studies?phase=PHASE2&phase=PHASE3&page_size=100")
    assert both.status_code == 200
    phases = {item["phase"] for item in both.json()["items"]}
    assert phases == {"PHASE2", "PHASE3"}


def test_an_empty_choice_is_refused(client):
    response = client.get(f"{API}/studies?phase=")
    assert response.status_code == 422
    assert ["query", "phase", 0] in [e["loc"] for e in response.json()["errors"]]


def test_an_empty_page_token_asks_for_the_first_page(client):
    first = client.get(f"{API}/studies?page_size=3")
    empty = client.get(f"{API}/studies?page_size=3&page_token=")
    assert empty.status_code == 200
    assert [i["key"] for i in empty.json()["items"]] == [i["key"] for i in first.json()["items"]]


def test_text_parameters_declare_and_refuse_nul(client):
    document = client.get("/openapi.json").json()
    declared = []
    for method, path, parameter in _query_parameters(document):
        schema = parameter["schema"]
        patterns = {o.get("pattern") for o in _options(schema)} | {
            o.get("items", {}).get("pattern") for o in _options(schema)}
        if NUL_FREE in patterns and method == "GET" and path.startswith(API) \
                and "{" not in path:
            declared.append((path, parameter["name"]))
    names = {name for _, name in declared}
    assert {"q", "condition", "intervention", "instrument", "study"} <= names
    for path, name in declared:
        response = client.get(path, params={name: "a\x00b"})
        assert response.status_code in (400, 422), (path, name, response.status_code)
        if response.status_code == 422:
            locs = [e["loc"][:2] for e in response.json()["errors"]]
            assert ["query", name] in locs, (path, name, locs)


def test_every_declared_sort_include_and_field_is_accepted(client):
    document = client.get("/openapi.json").json()
    parameters = {p["name"]: p["schema"] for p in
                  document["paths"][f"{API}/studies"]["get"]["parameters"]}
    sorts = parameters["sort"]["enum"]
    includes = parameters["include"]["items"]["enum"]
    fields = parameters["fields"]["items"]["enum"]
    assert "-start_date" in sorts and "effects" in includes and "title" in fields
    for sort in sorts:
        assert client.get(f"{API}/studies", params={"sort": sort}).status_code == 200, sort
    for include in includes:
        assert client.get(f"{API}/studies",
                          params={"include": include}).status_code == 200, include
    answer = client.get(f"{API}/studies", params={"fields": fields, "page_size": 1})
    assert answer.status_code == 200
    assert set(answer.json()["items"][0]) <= set(fields)


def test_benefit_and_harm_declare_a_name_that_is_not_blank(client):
    document = client.get("/openapi.json").json()
    parameters = {p["name"]: p["schema"] for p in
                  document["paths"][f"{API}/benefit-risk"]["get"]["parameters"]}
    for name in ("benefit", "harm"):
        assert parameters[name]["minItems"] == 1
        assert parameters[name]["items"]["pattern"] == "^\\s*[^\\s\\u0000][^\\u0000]*$"
    blank = client.get(f"{API}/benefit-risk", params={"benefit": " ", "harm": "death"})
    assert blank.status_code == 422
    # A blank name beside a real one is refused too, not dropped.
    one_blank = client.get(f"{API}/benefit-risk", params={"benefit": "response",
                                                          "harm": ["death", ""]})
    assert one_blank.status_code == 422
    assert ["query", "harm", 1] in [e["loc"] for e in one_blank.json()["errors"]]


def test_the_registry_study_path_declares_the_nct_number(client):
    document = client.get("/openapi.json").json()
    (parameter,) = document["paths"]["/ctgov/api/v2/studies/{nct_id}"]["get"]["parameters"][:1]
    assert parameter["schema"]["pattern"] == "^NCT[0-9]{8}$"
    assert client.get("/ctgov/api/v2/studies/NCT0009006").status_code == 400


def test_no_query_parameter_is_declared_nullable(client):
    """A query string carries values or nothing, never JSON null."""
    document = client.get("/openapi.json").json()
    nullable = [(path, p["name"]) for _, path, p in _query_parameters(document)
                if {"type": "null"} in p["schema"].get("anyOf", [])
                or p["schema"].get("type") == "null"]
    assert nullable == []
    q = {p["name"]: p["schema"] for p in
         document["paths"][f"{API}/studies"]["get"]["parameters"]}["q"]
    assert (q["type"], q["minLength"], q["maxLength"]) == ("string", 1, 200)
