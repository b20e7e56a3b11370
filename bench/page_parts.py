#!/usr/bin/env python3
"""What a page of 50 studies with arms and outcomes (Q3 of bench/run) costs on SQLite, part by
part, and what the same parts cost when SQLite builds their JSON itself.

    bench/page_parts.py DATABASE.sqlite [--pages 40] [--seed 1]

DATABASE is an evidencedb SQLite file (bench/run --work DIR --keep leaves one). Each page is
50 live studies drawn at random (fixed by --seed). Prints, in milliseconds per page:

- each part statement of app.queries.documents that such a page reads, run on the driver
  (rows fetched into Python, as the read path does), and their sum;
- the whole assembly (app.services.documents.assemble: the statements and the documents);
- one statement that builds the arms and outcome measures of the page (with results, effects,
  sources and risk of bias) as JSON in SQLite (`json_object` / `json_group_array`, REALs
  printed with 17 significant digits so that no value is rounded), and decoding that JSON
  with orjson. It builds less than the read path does (no derived fields, ids instead of arm
  and timepoint labels), so it is a lower bound for that design on SQLite.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE = 50


def _real(column: str) -> str:
    # SQLite 3.40 prints a REAL in JSON with 15 significant digits; 17 keep every double.
    return f"iif({column} IS NULL, NULL, json(printf('%!.17g', {column})))"


def _sources(column: str, value: str) -> str:
    return ("json((SELECT json_group_array(json_object('publication', p.publication_id, "
            "'registry', p.registry_record, 'source_url', p.source_url, 'locator', p.locator)) "
            f"FROM provenance p WHERE p.{column} = {value}))")


def _fields(alias: str, names: str, reals: str = "", json_columns: str = "") -> str:
    out = [f"'{n}', {alias}.{n}" for n in names.split()]
    out += [f"'{n}', {_real(f'{alias}.{n}')}" for n in reals.split()]
    out += [f"'{n}', json({alias}.{n})" for n in json_columns.split()]
    return ", ".join(out)


JSON_PAGE = f"""
SELECT s.value,
 (SELECT json_group_array(json_object(
    {_fields('a', 'label arm_type description n_randomized n_completed notes')},
    'interventions', (SELECT json_group_array(json_object(
        'name', x.label, 'intervention', i.name, 'type', i.type,
        {_fields('x', 'dose_text sessions notes', 'dose_mg')}))
      FROM (SELECT * FROM arm_intervention x WHERE x.arm_id = a.id ORDER BY x.position) x
      JOIN intervention i ON i.id = x.intervention_id),
    'sources', {_sources('arm_id', 'a.id')}))
  FROM (SELECT * FROM arm a WHERE a.study_id = s.value ORDER BY a.position) a),
 (SELECT json_group_array(json_object(
    {_fields('om', 'name instrument role unit lower_is_better description notes')},
    'results', (SELECT json_group_array(json_object(
        {_fields('r', 'arm_id timepoint_id n count denominator count_derived notes retracted',
                 'mean sd se change_mean change_sd change_se ci_low ci_high percent', 'raw')},
        'sources', {_sources('outcome_result_id', 'r.id')}))
      FROM (SELECT * FROM outcome_result r WHERE r.outcome_measure_id = om.id
            ORDER BY r.position) r),
    'effects', (SELECT json_group_array(json_object(
        {_fields('e', 'experimental_arm_id comparator_arm_id timepoint_id effect_type '
                      'p_value_relation analysis_population notes origin retracted',
                 'value ci_low ci_high ci_level se p_value', 'as_reported inputs')},
        'sources', {_sources('effect_estimate_id', 'e.id')},
        'risk_of_bias', (SELECT json_object('tool', b.tool, 'overall', b.overall,
                                            'domains', json(b.domains))
                         FROM risk_of_bias b WHERE b.effect_estimate_id = e.id)))
      FROM (SELECT * FROM effect_estimate e WHERE e.outcome_measure_id = om.id
            ORDER BY e.position, e.id) e)))
  FROM (SELECT * FROM outcome_measure om WHERE om.study_id = s.value ORDER BY om.position) om)
FROM json_each(?) s
"""


def _timed(run: Callable[[], Any], repeat: int = 3) -> float:
    """The best of `repeat` runs, in ms (a page read twice in a row is in the page cache)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database", type=Path)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from app.models import Study
    from app.queries import documents as q
    from app.services import documents

    engine = create_engine(f"sqlite:///{args.database}")
    raw = sqlite3.connect(args.database)
    ids = [r[0] for r in raw.execute("SELECT id FROM study WHERE deleted_at IS NULL")]
    rng = random.Random(args.seed)
    pages = [sorted(rng.sample(ids, PAGE)) for _ in range(args.pages)]
    statements = documents._statements({"arms", "outcomes"}, False)  # noqa: SLF001
    names = {id(getattr(q, n)): n for n in dir(q) if isinstance(getattr(q, n), q.Direct)}
    compiled = [(names[id(s)], s.compiled(engine.dialect).sql) for s in statements]

    per: dict[str, list[float]] = {name: [] for name, _ in compiled}
    assembly: list[float] = []
    built: list[float] = []
    decoded: list[float] = []
    sizes: list[int] = []
    with Session(engine) as session:
        for page in pages:
            arg = json.dumps(page)
            for name, sql in compiled:
                per[name].append(_timed(lambda sql=sql, arg=arg: raw.execute(sql, (arg,))
                                        .fetchall()))
            rows = session.execute(select(Study.__table__).where(Study.id.in_(page))).all()
            assembly.append(_timed(lambda rows=rows: documents.assemble(
                session, rows, {"arms", "outcomes"})))
            out: list[Any] = []
            built.append(_timed(lambda arg=arg, out=out: out.append(
                raw.execute(JSON_PAGE, (arg,)).fetchall())))
            texts = [t for row in out[-1] for t in row[1:] if t]
            sizes.append(sum(map(len, texts)))
            decoded.append(_timed(lambda texts=texts: [orjson.loads(t) for t in texts]))

    def line(label: str, values: list[float]) -> None:
        print(f"{label:<44} {statistics.median(values):8.2f} {max(values):8.2f}")

    print(f"{args.pages} pages of {PAGE} studies from {len(ids)} ({args.database.name}), "
          f"SQLite {sqlite3.sqlite_version}; ms per page, median and worst")
    print(f"{'':<44} {'median':>8} {'worst':>8}")
    for name, _ in compiled:
        line(f"  {name}", per[name])
    line("part statements, rows into Python", [sum(v) for v in zip(*per.values(), strict=True)])
    line("assemble(): statements and documents", assembly)
    line("JSON built by SQLite (arms, outcome measures)", built)
    line("  orjson.loads of that JSON", decoded)
    print(f"JSON built per page: median {statistics.median(sizes) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
