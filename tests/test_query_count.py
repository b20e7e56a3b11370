"""A page costs a fixed number of SQL statements, whatever it holds (no N+1)."""

from __future__ import annotations

API = "/api/v1"


def _statements_for(client, counter, url):
    counter.statements.clear()
    response = client.get(url)
    assert response.status_code == 200, response.text
    return len(counter.statements), response.json()["items"]


def test_list_page_with_includes_runs_a_constant_number_of_statements(client, count_statements,
                                                                     dialect):
    url = f"{API}/studies?page_size=50&include=arms,outcomes"
    n_full, items_full = _statements_for(client, count_statements, url)
    n_one, items_one = _statements_for(client, count_statements,
                                       f"{API}/studies?page_size=1&include=arms,outcomes")
    assert len(items_full) > 10 and len(items_one) == 1
    assert sum(len(i["arms"]) for i in items_full) > 20
    assert n_full == n_one
    # Filtered by one set of studies (which SQLite sizes first), many or one.
    n_many, many = _statements_for(client, count_statements,
                                   f"{API}/studies?page_size=50&include=arms,outcomes"
                                   "&condition=PTSD")
    n_single, single = _statements_for(client, count_statements,
                                       f"{API}/studies?page_size=50&include=arms,outcomes"
                                       "&registry_id=NCT03537014")
    assert len(many) > 5 and len(single) == 1
    assert n_many <= n_full + 1
    # SQLite counts a condition's studies first; a few registry ids name a few studies
    # ((registry, identifier) is unique), so they are not counted.
    assert n_single == n_many - (1 if dialect == "sqlite" else 0)


def test_detail_read_runs_a_constant_number_of_statements(client, count_statements):
    n_big, big = _statements_for_detail(client, count_statements, "NCT03537014")
    n_small, small = _statements_for_detail(client, count_statements, "NCT00090064")
    assert n_big == n_small


def _statements_for_detail(client, counter, key):
    counter.statements.clear()
    response = client.get(f"{API}/studies/{key}")
    assert response.status_code == 200
    return len(counter.statements), response.json()


def test_lists_and_exports_do_not_read_the_stored_registry_record(client, count_statements):
    """A list item or an export row never shows a study's stored registry record (tens of
    kilobytes for an imported study): only a study's own read reads it."""
    def statements(url):
        count_statements.statements.clear()
        response = client.get(url)
        assert response.status_code == 200, response.text
        return count_statements.statements

    own = statements(f"{API}/studies/NCT03537014")
    assert any("source_record" in s for s in own)
    for url in (f"{API}/studies?page_size=50&include=arms,outcomes",
                f"{API}/studies?registry_id=NCT03537014",
                f"{API}/export/studies.ndjson"):
        read = statements(url)
        assert read and not any("source_record" in s for s in read), url
