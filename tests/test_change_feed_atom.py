"""The change feed as Atom (RFC 4287): what feed readers parse, holding the same changes as
the JSON feed, newest first, with the same study filters, and every text escaped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import feedparser
import pytest
from fastapi.testclient import TestClient

from app.api.deps import get_session
from app.main import create_app
from app.services.feed import encode_cursor
from tests.authkit import API
from tests.builders import study_document
from tests.response_schemas import check_every_answer

pytestmark = pytest.mark.usefixtures("no_key_leaks")

ATOM = "application/atom+xml"
HOSTILE = '</title><script>alert("x")</script> & ]]> <![CDATA[ \x01\x0b end'


def atom(client, **params) -> Any:
    response = client.get(f"{API}/changes.atom", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == ATOM
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def create(client, curator, key: str, nct: str, **fields) -> Any:
    response = client.post(f"{API}/studies", json=study_document(key, nct, **fields),
                           headers=curator)
    assert response.status_code == 201, response.text
    return response


def test_entries_are_the_json_feeds_changes_newest_first(client, curator):
    created = create(client, curator, "atom-1", "NCT09997711")
    patched = client.patch(f"{API}/studies/atom-1", json={"enrollment": 61},
                           headers={**curator, "If-Match": created.headers["etag"]})
    assert patched.status_code == 200, patched.text
    create(client, curator, "atom-2", "NCT09997712")

    changes = client.get(f"{API}/changes", params={"tail": 3}).json()["items"]
    parsed = atom(client, tail=3)
    assert [e.id for e in parsed.entries] == [
        f"urn:evidencedb:change:{c['id']}" for c in reversed(changes)]
    assert [e.title for e in parsed.entries] == [
        "study atom-2: create (version 1)", "study atom-1: update (version 2)",
        "study atom-1: create (version 1)"]
    update = parsed.entries[1]
    assert update.link == "http://testserver/api/v1/studies/atom-1"
    assert update.summary.endswith("Changed: enrollment, updated_at, version")
    assert update.summary.startswith(study_document("atom-1")["title"])
    assert [t.term for t in update.tags] == ["update"]
    assert [e.updated_parsed for e in parsed.entries] == sorted(
        (e.updated_parsed for e in parsed.entries), reverse=True)
    assert parsed.feed.id == "urn:evidencedb:changes"
    assert parsed.feed.updated == parsed.entries[0].updated
    assert parsed.feed.author == "evidencedb"
    self_link = next(link for link in parsed.feed.links if link.rel == "self")
    assert self_link.href == f"http://testserver{API}/changes.atom?tail=3"
    # The link of each entry leads to the record it changed.
    assert client.get(update.link).json()["enrollment"] == 61


def test_tail_defaults_to_fifty_and_since_narrows_to_later_changes(client, curator):
    for n in range(3):
        create(client, curator, f"atom-tail-{n}", f"NCT0999772{n}")
    head = client.get(f"{API}/changes", params={"tail": 3}).json()
    first = head["items"][0]["id"]
    parsed = atom(client)
    total = client.get(f"{API}/changes", params={"tail": 1000}).json()["items"]
    assert len(parsed.entries) == min(50, len(total))
    after = atom(client, since=encode_cursor(first))
    assert [e.title for e in after.entries] == [
        "study atom-tail-2: create (version 1)", "study atom-tail-1: create (version 1)"]
    assert [e.title for e in atom(client, since=encode_cursor(first), tail=1).entries] == [
        "study atom-tail-2: create (version 1)"]
    assert atom(client, since=head["next_cursor"]).entries == []


def test_study_filters_apply_as_in_the_json_feed(client, curator):
    create(client, curator, "atom-3", "NCT09997731")
    create(client, curator, "atom-4", "NCT09997732", phase="PHASE3")
    parsed = atom(client, registry_id="NCT09997731")
    assert [e.title for e in parsed.entries] == ["study atom-3: create (version 1)"]
    json_feed = client.get(f"{API}/changes", params={"tail": 50, "phase": "PHASE3"}).json()
    parsed = atom(client, phase="PHASE3")
    assert [e.id for e in parsed.entries] == [
        f"urn:evidencedb:change:{c['id']}" for c in reversed(json_feed["items"])]
    assert parsed.entries[0].title == "study atom-4: create (version 1)"
    assert parsed.feed.id.startswith("urn:evidencedb:changes:")
    assert "phase=PHASE3" in parsed.feed.title


def test_hostile_text_in_a_study_title_and_a_filter_is_escaped(client, curator):
    create(client, curator, "atom-5", "NCT09997741", title=HOSTILE)
    response = client.get(f"{API}/changes.atom", params={"tail": 1})
    assert b"<script>" not in response.content
    assert b"<![CDATA[" not in response.content
    parsed = atom(client, tail=1)
    # Characters XML cannot carry at all come out as U+FFFD; everything else as written.
    shown = HOSTILE.replace("\x01", "\ufffd").replace("\x0b", "\ufffd")
    assert parsed.entries[0].summary.startswith(shown + ". Changed: ")

    response = client.get(f"{API}/changes.atom", params={"q": HOSTILE.strip()[:60]})
    assert response.status_code == 200, response.text
    assert b"<script>" not in response.content
    parsed = atom(client, q=HOSTILE.strip()[:60])
    assert '<script>alert("x")</script>' in parsed.feed.title


def test_entries_without_a_study_link_to_the_change_in_the_json_feed(client, curator):
    created = create(client, curator, "atom-6", "NCT09997751")
    deleted = client.delete(f"{API}/studies/atom-6",
                            headers={**curator, "If-Match": created.headers["etag"]})
    assert deleted.status_code == 204, deleted.text
    entry = atom(client, tail=1).entries[0]
    assert entry.title == "study atom-6: delete (version 2)"
    one = client.get(entry.link.removeprefix("http://testserver"))
    assert one.status_code == 200, one.text
    [change] = one.json()["items"]
    assert entry.id == f"urn:evidencedb:change:{change['id']}"
    assert (change["key"], change["action"]) == ("atom-6", "delete")


@pytest.mark.parametrize("params", [{"since": "not-a-cursor"}, {"tail": 0},
                                    {"tail": 1001}, {"limit": 5}])
def test_bad_parameters_are_problems(client, params):
    response = client.get(f"{API}/changes.atom", params=params)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.fixture
def public_client(settings, connection) -> Iterator[TestClient]:
    """A client of an app configured with a public base URL."""
    app = create_app(settings.model_copy(update={"public_base_url": "https://evidence.example"}))

    def session() -> Iterator[Any]:
        from sqlalchemy.orm import Session

        with Session(bind=connection, join_transaction_mode="create_savepoint",
                     expire_on_commit=False, autoflush=False) as s:
            yield s

    app.dependency_overrides[get_session] = session
    with TestClient(app, raise_server_exceptions=False) as c:
        check_every_answer(c, app)
        yield c
    app.state.engine.dispose()


def test_links_use_the_public_base_url(public_client, curator):
    create(public_client, curator, "atom-7", "NCT09997761")
    parsed = atom(public_client, tail=1)
    self_link = next(link for link in parsed.feed.links if link.rel == "self")
    assert self_link.href == f"https://evidence.example{API}/changes.atom?tail=1"
    assert parsed.entries[0].link == f"https://evidence.example{API}/studies/atom-7"


def test_the_document_is_atom_as_rfc_4287_spells_it(client, curator):
    """Feed readers forgive much (feedparser folds names to lower case); the document itself
    must be exact: Atom's namespace and element names, the required elements, RFC 3339 times,
    an XML declaration naming UTF-8."""
    import datetime as dt
    from xml.etree.ElementTree import fromstring

    created = create(client, curator, "atom-exact", "NCT09997790")
    client.delete(f"{API}/studies/atom-exact",
                  headers={**curator, "If-Match": created.headers["etag"]})
    response = client.get(f"{API}/changes.atom", params={"tail": 2})
    body = response.content
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    ns = "{http://www.w3.org/2005/Atom}"
    feed = fromstring(body)
    assert feed.tag == f"{ns}feed"

    def one(parent, name):
        found = parent.findall(f"{ns}{name}")
        assert len(found) == 1, (name, found)
        return found[0]

    def rfc3339(text: str) -> dt.datetime:
        assert text.endswith("Z"), text
        return dt.datetime.fromisoformat(text)

    assert one(feed, "id").text == "urn:evidencedb:changes"
    assert one(feed, "title").text == "evidencedb changes"
    rfc3339(one(feed, "updated").text)
    assert one(one(feed, "author"), "name").text == "evidencedb"
    [self_link] = [link.attrib for link in feed.findall(f"{ns}link")]
    assert self_link == {"rel": "self", "type": ATOM,
                         "href": f"http://testserver{API}/changes.atom?tail=2"}
    entries = feed.findall(f"{ns}entry")
    assert len(entries) == 2
    for entry in entries:
        assert one(entry, "id").text.startswith("urn:evidencedb:change:")
        rfc3339(one(entry, "updated").text)
        assert one(entry, "link").attrib["rel"] == "alternate"
        assert one(entry, "summary").attrib == {"type": "text"}
    deleted, created_entry = entries
    assert one(deleted, "title").text == "study atom-exact: delete (version 2)"
    assert one(deleted, "category").attrib == {"term": "delete"}
    assert one(created_entry, "link").attrib["href"] == \
        f"http://testserver{API}/studies/atom-exact"
    # A deleted study has no page: the deletion links to itself in the JSON feed.
    seq = int(one(deleted, "id").text.rsplit(":", 1)[1])
    assert one(deleted, "link").attrib["href"] == (
        f"http://testserver{API}/changes?since={encode_cursor(seq - 1)}&limit=1")
