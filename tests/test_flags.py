"""Registry versus publication: flags computed from a study's registry record and its
publications, shown on the study read and at /flags, explained by curators with a reason."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.enums import Role
from tests.builders import study_document
from tests.interop_support import import_record, key_headers, raw

API = "/api/v1"
NCT = "NCT03475563"  # registered: "Successful angioplasty" (1 day), "MACE" (30 days, 1 year)
NOT_REPORTED, NEW_PRIMARY = "PRIMARY_OUTCOME_NOT_REPORTED", "NEW_PRIMARY_OUTCOME"
TIMEPOINT, ENROLLMENT = "TIMEPOINT_CHANGED", "ENROLLMENT_DIFFERS"


@pytest.fixture
def curator(db_session):
    return key_headers(db_session, Role.CURATOR)


@pytest.fixture
def reader(db_session):
    return key_headers(db_session, Role.READER)


def _read(client, key: str) -> Any:
    response = client.get(f"{API}/studies/{key}")
    assert response.status_code == 200, response.text
    return response


def _put(client, curator, doc: dict[str, Any]) -> dict[str, Any]:
    etag = _read(client, doc["key"]).headers["etag"]
    response = client.put(f"{API}/studies/{doc['key']}", json=doc,
                          headers={**curator, "If-Match": etag})
    assert response.status_code == 200, response.text
    return _read(client, doc["key"]).json()


def _imported(client, curator) -> dict[str, Any]:
    """The registry record imported, and its document as read."""
    assert import_record(client, curator, raw(NCT)).status_code == 201
    return _read(client, NCT).json()


def _ref(doc: dict[str, Any]) -> str:
    return str(doc["publications"][0]["ref"])


def _report(doc: dict[str, Any], measure: str, timepoint: str = "1 year") -> None:
    """A result of `measure` at `timepoint` sourced to the study's first publication."""
    arm = doc["arms"][0]["label"]
    om = next(o for o in doc["outcome_measures"] if o["name"] == measure)
    om["results"].append({"arm": arm, "timepoint": timepoint, "count": 3, "denominator": 50,
                          "sources": [{"publication": _ref(doc), "locator": "Table 2"}]})


def _published_timepoint(doc: dict[str, Any], label: str, months: float) -> None:
    doc["timepoints"].append({"label": label, "anchor": "BASELINE", "months": months,
                              "sources": [{"publication": _ref(doc), "locator": "Methods"}]})


def _flags(doc: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    return [f for f in doc["flags"] if kind is None or f["type"] == kind]


# ---------------------------------------------------------------- primary outcome not reported


def test_imported_primary_outcome_absent_from_the_publication_is_flagged(client, curator):
    doc = _imported(client, curator)
    assert doc["flags"] == []  # nothing is compared until a publication reports an outcome
    _report(doc, "MACE", "1 year")
    doc = _put(client, curator, doc)
    [flag] = _flags(doc)
    assert flag["id"] == f"{NOT_REPORTED}.successfulangioplasty"
    assert flag["type"] == NOT_REPORTED
    assert flag["study"] == NCT and flag["registry"] == NCT
    assert flag["registry_value"] == "Successful angioplasty"
    assert flag["published_value"] is None
    assert "'MACE'" in flag["detail"] and "same name" in flag["rule"]
    assert {"publication": None, "registry": NCT,
            "source_url": f"https://clinicaltrials.gov/study/{NCT}",
            "locator": "protocolSection.outcomesModule.primaryOutcomes[0]"} in flag["sources"]
    assert {"publication": _ref(doc), "registry": None, "source_url": None,
            "locator": "Table 2"} in flag["sources"]
    assert flag["explained"] is False and flag["explanation"] is None


def test_a_published_name_that_differs_only_in_case_and_punctuation_is_the_registered_one(
        client, curator):
    doc = _imported(client, curator)
    _report(doc, "MACE", "1 year")
    om = next(o for o in doc["outcome_measures"] if o["name"] == "Successful angioplasty")
    om["name"] = "SUCCESSFUL-angioplasty!"
    _report(doc, "SUCCESSFUL-angioplasty!", "1 day")
    assert _flags(_put(client, curator, doc)) == []
    # one word more is another measure: the registered one is not reported, and the
    # published primary one is new
    om["name"] = "Successful angioplasty rate"
    om["results"] = []
    _report(doc, "Successful angioplasty rate", "1 day")
    assert [f["id"] for f in _flags(_put(client, curator, doc))] == [
        f"{NEW_PRIMARY}.successfulangioplastyrate", f"{NOT_REPORTED}.successfulangioplasty"]


def _curated(instrument: str) -> dict[str, Any]:
    """A curated study whose registry record is transcribed as registry-sourced numbers of a
    PRIMARY measure, beside the publication's PRIMARY measure with `instrument`."""
    doc = study_document(key="curated-flags", nct="NCT09999977")
    doc["outcome_measures"][0]["instrument"] = instrument
    doc["outcome_measures"].append({
        "name": "Change in Clinician-Administered PTSD Scale (CAPS-5) total severity",
        "role": "PRIMARY",
        "results": [{"arm": "Drug", "timepoint": "12 months", "n": 30, "mean": 21.0,
                     "sources": [{"registry": "NCT09999977", "locator": "results"}]}]})
    return doc


def test_a_published_instrument_named_in_the_registered_measure_matches_it(client, curator):
    created = client.post(f"{API}/studies", json=_curated("CAPS-5"), headers=curator)
    assert created.status_code == 201, created.text
    assert _flags(_read(client, "curated-flags").json()) == []


def test_another_instrument_is_not_the_registered_measure(client, curator):
    created = client.post(f"{API}/studies", json=_curated("CAPS-IV"), headers=curator)
    assert created.status_code == 201, created.text
    flags = _flags(_read(client, "curated-flags").json())
    assert [f["type"] for f in flags] == [NEW_PRIMARY, NOT_REPORTED]
    assert flags[1]["registry_value"].startswith("Change in Clinician-Administered")
    assert flags[0]["published_value"] == "PTSD severity"
    assert {"publication": None, "registry": "NCT09999977", "source_url": None,
            "locator": "results"} in flags[1]["sources"]


# ---------------------------------------------------------------- new primary outcome


def _new_measure(doc: dict[str, Any], role: str) -> None:
    doc["outcome_measures"].append({"name": "Stent thrombosis", "role": role, "results": []})
    _report(doc, "Stent thrombosis", "1 year")


def test_a_published_primary_outcome_not_registered_is_flagged(client, curator):
    doc = _imported(client, curator)
    _report(doc, "MACE", "1 year")
    _report(doc, "Successful angioplasty", "1 day")
    _new_measure(doc, "PRIMARY")
    [flag] = _flags(_put(client, curator, doc))
    assert flag["id"] == f"{NEW_PRIMARY}.stentthrombosis"
    assert flag["published_value"] == "Stent thrombosis" and flag["registry_value"] is None
    assert "'Successful angioplasty', 'MACE'" in flag["detail"]


def test_a_published_secondary_outcome_not_registered_is_not_flagged(client, curator):
    doc = _imported(client, curator)
    _report(doc, "MACE", "1 year")
    _report(doc, "Successful angioplasty", "1 day")
    _new_measure(doc, "SECONDARY")
    assert _flags(_put(client, curator, doc)) == []


# ---------------------------------------------------------------- timepoint changed


@pytest.mark.parametrize(("months", "flagged"), [(12.1, False), (12.11, True), (18, True)])
def test_a_primary_timepoint_moved_more_than_a_tenth_of_a_month_is_flagged(
        client, curator, months, flagged):
    doc = _imported(client, curator)
    _report(doc, "Successful angioplasty", "1 day")
    _published_timepoint(doc, "published follow-up", months)
    _report(doc, "MACE", "published follow-up")
    flags = _flags(_put(client, curator, doc))
    assert [f["type"] for f in flags] == ([TIMEPOINT] if flagged else [])
    if flagged:
        [flag] = flags
        assert flag["id"] == f"{TIMEPOINT}.mace"
        assert flag["compared_on"] == "MONTHS_SINCE_BASELINE"
        assert flag["registry_value"] == pytest.approx(0.9856)  # 30 days, the first frame
        assert flag["published_value"] == pytest.approx(months)
        assert "'1 year' (12 months)" in flag["detail"]
        assert {"publication": None, "registry": NCT,
                "source_url": f"https://clinicaltrials.gov/study/{NCT}",
                "locator": "protocolSection.outcomesModule.primaryOutcomes[2]"
                } in flag["sources"]


def test_a_timepoint_on_another_clock_is_not_compared(client, curator):
    doc = _imported(client, curator)
    _report(doc, "Successful angioplasty", "1 day")
    doc["timepoints"].append({"label": "after treatment", "anchor": "LAST_TREATMENT_SESSION",
                              "months": 30, "sources": [{"publication": _ref(doc)}]})
    _report(doc, "MACE", "after treatment")
    assert _flags(_put(client, curator, doc)) == []


# ---------------------------------------------------------------- enrollment


def _randomized(doc: dict[str, Any], n: int) -> None:
    doc["arms"][0]["n_randomized"] = n
    doc["arms"][0]["sources"] = [{"publication": _ref(doc), "locator": "Figure 1"}]


@pytest.mark.parametrize(("randomized", "flagged"),
                         [(110, False), (111, True), (90, False), (89, True)])
def test_randomized_count_more_than_ten_percent_off_the_registered_enrollment_is_flagged(
        client, curator, randomized, flagged):
    doc = _imported(client, curator)  # registered enrollment: 100 (ESTIMATED)
    _randomized(doc, randomized)
    flags = _flags(_put(client, curator, doc))
    assert [f["type"] for f in flags] == ([ENROLLMENT] if flagged else [])
    if flagged:
        [flag] = flags
        assert flag["id"] == ENROLLMENT
        assert (flag["registry_value"], flag["published_value"]) == (100, randomized)
        assert flag["compared_on"] == "RANDOMIZED"
        assert "registered enrollment 100 (ESTIMATED)" in flag["detail"]
        assert flag["sources"][0]["locator"] == "protocolSection.designModule.enrollmentInfo"
        assert flag["sources"][1] == {"publication": _ref(doc), "registry": None,
                                      "source_url": None, "locator": "Figure 1"}


def test_study_enrollment_sourced_to_a_publication_is_compared_when_no_arm_count_is(
        client, curator):
    doc = _imported(client, curator)
    doc["enrollment"] = 125
    doc["sources"].append({"publication": _ref(doc), "locator": "abstract"})
    [flag] = _flags(_put(client, curator, doc))
    assert (flag["type"], flag["compared_on"]) == (ENROLLMENT, "STUDY_ENROLLMENT")
    assert (flag["registry_value"], flag["published_value"]) == (100, 125)


# ---------------------------------------------------------------- explanations


def _explain(client, headers, key, flag_id, reason, **extra):
    return client.put(f"{API}/studies/{key}/flags/{flag_id}/explanation",
                      json={"reason": reason}, headers={**headers, **extra})


def _enrollment_flagged(client, curator) -> dict[str, Any]:
    doc = _imported(client, curator)
    _randomized(doc, 150)
    return _put(client, curator, doc)


def test_a_curator_explains_a_flag_with_a_reason_and_the_flag_shows_it(client, curator,
                                                                         reader):
    doc = _enrollment_flagged(client, curator)
    version = doc["version"]
    assert _explain(client, reader, NCT, ENROLLMENT, "fine").status_code == 403
    blank = _explain(client, curator, NCT, ENROLLMENT, "   ")
    assert blank.status_code == 422
    first = _explain(client, curator, NCT, ENROLLMENT, "amended")
    assert first.status_code == 201, first.text
    assert first.headers["etag"].startswith('"flag-')
    assert _read(client, NCT).json()["flags"][0]["explanation"]["reason"] == "amended"
    stale = _explain(client, curator, NCT, ENROLLMENT, "again")
    assert stale.status_code == 428
    wrong = _explain(client, curator, NCT, ENROLLMENT, "again", **{"If-Match": '"flag-1-99"'})
    assert wrong.status_code == 412
    replaced = _explain(client, curator, NCT, ENROLLMENT,
                        "the registry was amended to 150 before unblinding",
                        **{"If-Match": first.headers["etag"],
                           "X-Change-Reason": "checked the record history"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["location"] == f"{API}/studies/{NCT}/flags/{ENROLLMENT}/explanation"
    body = replaced.json()
    assert body["version"] == 2 and body["flag_type"] == ENROLLMENT
    assert body["compared"] == {"registry_value": 100, "published_value": 150}
    assert body["explained_by"]["name"] == "test curator"
    read = _read(client, NCT).json()
    assert read["version"] == version + 2
    [flag] = read["flags"]
    assert flag["explained"] is True
    assert flag["explanation"]["reason"] == "the registry was amended to 150 before unblinding"
    got = client.get(f"{API}/studies/{NCT}/flags/{ENROLLMENT}/explanation")
    assert got.status_code == 200 and got.headers["etag"] == replaced.headers["etag"]
    history = client.get(f"{API}/studies/{NCT}/flags/{ENROLLMENT}/explanation/history").json()
    assert [(e["action"], e["version"]) for e in history["items"]] == [
        ("create", 1), ("replace", 2)]
    assert history["items"][1]["reason"] == "checked the record history"
    assert history["items"][1]["actor"]["name"] == "test curator"
    assert history["items"][1]["changes"]["reason"]["before"] == "amended"
    actions = [e["action"] for e in client.get(f"{API}/studies/{NCT}/history").json()["items"]]
    assert actions[-2:] == ["flag explanation create", "flag explanation replace"]


def test_a_dry_run_explanation_writes_nothing(client, curator):
    _enrollment_flagged(client, curator)
    dry = client.put(f"{API}/studies/{NCT}/flags/{ENROLLMENT}/explanation",
                     params={"dry_run": "true"}, json={"reason": "amended"}, headers=curator)
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True and dry.json()["would_status"] == 201
    assert _read(client, NCT).json()["flags"][0]["explained"] is False


def test_only_a_raised_flag_can_be_explained(client, curator):
    _imported(client, curator)
    missing = _explain(client, curator, NCT, ENROLLMENT, "nothing to explain")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert _explain(client, curator, NCT, "NOT_A_FLAG", "x").status_code == 404
    assert _explain(client, curator, "no-such-study", ENROLLMENT, "x").status_code == 404


def test_a_flag_no_longer_raised_keeps_its_explanation_history(client, curator):
    doc = _enrollment_flagged(client, curator)
    assert _explain(client, curator, NCT, ENROLLMENT, "amended").status_code == 201
    _randomized(doc, 100)
    assert _flags(_put(client, curator, doc)) == []
    history = client.get(f"{API}/studies/{NCT}/flags/{ENROLLMENT}/explanation/history")
    assert history.status_code == 200
    assert [e["action"] for e in history.json()["items"]] == ["create"]
    listed = client.get(f"{API}/flags", params={"study": NCT}).json()
    assert listed["items"] == []


def test_a_study_read_with_its_flags_is_accepted_back_by_put_unchanged(client, curator):
    doc = _enrollment_flagged(client, curator)
    assert doc["flags"]
    again = _put(client, curator, copy.deepcopy(doc))
    assert again["flags"] == doc["flags"]


# ---------------------------------------------------------------- /flags


def _two_flagged_studies(client, curator) -> None:
    _enrollment_flagged(client, curator)
    assert client.post(f"{API}/studies", json=_curated("CAPS-IV"),
                       headers=curator).status_code == 201


def _list(client, **params) -> list[tuple[str, str]]:
    response = client.get(f"{API}/flags", params=params)
    assert response.status_code == 200, response.text
    return [(f["study"], f["id"]) for f in response.json()["items"]]


def test_flags_list_filters_by_type_study_registry_id_and_explanation(client, curator):
    _two_flagged_studies(client, curator)
    assert _explain(client, curator, NCT, ENROLLMENT, "amended").status_code == 201
    every = _list(client)
    assert (NCT, ENROLLMENT) in every
    assert ("curated-flags", f"{NEW_PRIMARY}.ptsdseverity") in every
    assert _list(client, type=ENROLLMENT) == [(NCT, ENROLLMENT)]
    assert set(_list(client, type=f"{ENROLLMENT},{NEW_PRIMARY}")) == {
        (NCT, ENROLLMENT), ("curated-flags", f"{NEW_PRIMARY}.ptsdseverity")}
    assert {s for s, _ in _list(client, study="curated-flags")} == {"curated-flags"}
    assert _list(client, registry_id="NCT09999977") == _list(client, study="curated-flags")
    assert _list(client, registry_id=NCT) == [(NCT, ENROLLMENT)]
    assert _list(client, explained="true") == [(NCT, ENROLLMENT)]
    assert (NCT, ENROLLMENT) not in _list(client, explained="false")
    assert set(_list(client, explained="false")) == set(every) - {(NCT, ENROLLMENT)}
    assert client.get(f"{API}/flags", params={"type": "NOPE"}).status_code == 422
    assert client.get(f"{API}/flags", params={"color": "red"}).status_code == 422


def test_flags_list_pages_by_keyset_without_repeats(client, curator):
    _two_flagged_studies(client, curator)
    every = _list(client)
    assert len(every) >= 3
    seen, token = [], None
    while True:
        params = {"page_size": 1, **({"page_token": token} if token else {})}
        response = client.get(f"{API}/flags", params=params)
        assert response.status_code == 200
        page = response.json()
        seen += [(f["study"], f["id"]) for f in page["items"]]
        token = page["next_page_token"]
        if token is None:
            break
        assert 'rel="next"' in response.headers["link"]
    assert seen == every
    assert client.get(f"{API}/flags", params={"page_token": "bad!"}).status_code in (400, 422)
    assert client.get(f"{API}/flags", params={"page_token": "eyJ4Ijp9"}).status_code == 400
