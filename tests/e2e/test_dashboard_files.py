"""The dashboard's page and files as the API serves them (no browser needed)."""

from __future__ import annotations

import re


def test_the_root_serves_the_dashboard_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script src="/static/dashboard/app.js" defer></script>' in response.text


def test_the_page_references_only_files_the_server_has(client):
    page = client.get("/").text
    refs = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert sorted(refs) == ["/static/dashboard/app.css", "/static/dashboard/app.js"]
    for ref, kind in zip(sorted(refs), ("text/css", "text/javascript"), strict=True):
        response = client.get(ref)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(kind)


def test_no_file_outside_the_static_folder_is_served(client):
    for path in ("/static/../config.py", "/static/%2e%2e/config.py",
                 "/static/dashboard/../../api/router.py", "/static/dashboard/missing.js"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
