"""Every error path answers with an RFC 9457 problem document."""

from __future__ import annotations

import pytest

API = "/api/v1"


@pytest.mark.parametrize("url,status,loc", [
    (f"{API}/studies?colour=blue", 422, ["query", "colour"]),
    (f"{API}/studies?phase=PHASE9", 422, ["query", "phase", 0]),
    (f"{API}/studies?min_enrollment=many", 422, ["query", "min_enrollment"]),
    (f"{API}/studies?page_size=1001", 422, ["query", "page_size"]),
    (f"{API}/studies?page_size=0", 422, ["query", "page_size"]),
    (f"{API}/studies?sort=colour", 422, ["query", "sort"]),
    (f"{API}/studies?include=everything", 422, ["query", "include"]),
    (f"{API}/studies?fields=colour", 422, ["query", "fields"]),
    (f"{API}/studies?q=" + "x" * 201, 422, ["query", "q"]),
    (f"{API}/studies?page_token=not-a-token", 400, None),
    (f"{API}/studies?page_token=W10", 400, None),
    (f"{API}/studies/NCT99999999", 404, None),
    (f"{API}/nothing-here", 404, None),
    (f"{API}/publications?retraction_status=MAYBE", 422, ["query", "retraction_status", 0]),
    (f"{API}/regulatory-events?page_token=%%%", 400, None),
])
def test_error_paths_return_problem_json(client, url, status, loc):
    response = client.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if loc is not None:
        assert loc in [e["loc"] for e in body["errors"]]
        for e in body["errors"]:
            assert set(e) == {"loc", "msg", "type"}


def test_method_not_allowed_is_a_problem(client):
    response = client.request("TRACE", f"{API}/studies")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
