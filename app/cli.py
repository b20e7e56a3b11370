"""The `evidencedb` command: serve, migrate, seed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app.config import get_settings


def _migrate(url: str) -> None:
    from app import migrations

    migrations.upgrade(url)


def _seed(url: str, *, only_if_empty: bool) -> None:
    from sqlalchemy import func, select

    from app.db import make_engine, make_sessionmaker
    from app.models import Study
    from app.services.seed import SeedError, seed

    settings = get_settings()
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            if only_if_empty and session.scalar(select(func.count()).select_from(Study)):
                return
            try:
                report = seed(session, settings.seed_dir)
            except SeedError as exc:
                sys.exit(f"seed refused: {exc}")
    finally:
        engine.dispose()
    print(f"seed: {len(report.studies_created)} studies created, "
          f"{len(report.studies_unchanged)} already stored; "
          f"{report.events_created} regulatory events created, "
          f"{report.events_unchanged} already stored")


def cmd_import_ctgov(args: argparse.Namespace) -> None:
    """Import ClinicalTrials.gov API v2 records from files or folders, one file per
    transaction; a file that is refused is reported and the others still import."""
    import json
    from pathlib import Path

    from app.db import make_engine, make_sessionmaker
    from app.errors import ProblemError
    from app.services import importer

    files: list[Path] = []
    for name in args.paths:
        path = Path(name)
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    url = get_settings().database_url
    _migrate(url)
    engine = make_engine(url)
    failed = 0
    try:
        sessions = make_sessionmaker(engine)
        for path in files:
            with sessions() as session:
                try:
                    body = json.loads(path.read_text(encoding="utf-8"))
                    results = importer.import_records(session, body, actor_id=None)
                except (OSError, ValueError) as exc:
                    failed += 1
                    print(f"{path}: refused: {exc}", file=sys.stderr)
                    continue
                except ProblemError as exc:
                    session.rollback()
                    failed += 1
                    print(f"{path}: refused ({exc.status}): {exc.detail}", file=sys.stderr)
                    continue
            for r in results:
                print(f"{path}: {r.nct_id} {r.action} as {r.key} (version {r.version}; "
                      f"{len(r.report['mapped'])} mapped, {len(r.report['skipped'])} skipped)")
    finally:
        engine.dispose()
    if failed:
        sys.exit(f"{failed} of {len(files)} files refused")


def cmd_migrate(_: argparse.Namespace) -> None:
    _migrate(get_settings().database_url)
    print("migrated to head")


def cmd_seed(_: argparse.Namespace) -> None:
    url = get_settings().database_url
    _migrate(url)
    _seed(url, only_if_empty=False)


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    url = get_settings().database_url
    _migrate(url)
    _seed(url, only_if_empty=True)
    uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evidencedb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate, seed an empty database and serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply every migration").set_defaults(func=cmd_migrate)
    sub.add_parser("seed", help="load the curated seed data (idempotent)").set_defaults(
        func=cmd_seed)
    imp = sub.add_parser("import-ctgov",
                         help="import ClinicalTrials.gov API v2 study records (files or folders)")
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.set_defaults(func=cmd_import_ctgov)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
