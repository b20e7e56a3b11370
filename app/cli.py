"""The `evidencedb` command: serve, migrate, seed, bulk-load, and manage API keys."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from app.config import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def _migrate(url: str) -> None:
    from app import migrations

    before = migrations.upgrade(url)
    if migrations.needs_study_flags(before):
        from app.db import make_engine, make_sessionmaker
        from app.services import flags

        engine = make_engine(url)
        try:
            with make_sessionmaker(engine)() as session:
                flags.refresh(session, [])
                session.commit()
        finally:
            engine.dispose()


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
          f"{report.events_unchanged} already stored; "
          f"{report.assessments_created} risk-of-bias assessments created, "
          f"{report.assessments_unchanged} already stored")


def cmd_import_ctgov(args: argparse.Namespace) -> None:
    """Import ClinicalTrials.gov API v2 records from files, folders (recursively) and the
    registry's full dump (a ZIP of records), one file at a time, in transactions of
    --batch-size files; a refused file is reported by name and the others still import, and
    a record the stored study was imported from unchanged is skipped."""
    from app.db import make_engine, make_sessionmaker
    from app.interop.ctgov import dump
    from app.services import dump_import

    url = get_settings().database_url
    _migrate(url)
    engine = make_engine(url)
    report = dump_import.ConsoleReport(every=args.progress_every)
    try:
        tally = dump_import.run(make_sessionmaker(engine), dump.members(args.paths), report,
                                batch_size=args.batch_size)
    finally:
        report.close()
        engine.dispose()
    print(tally.summary())
    if tally.refused:
        sys.exit(f"{tally.refused} of {tally.files} files refused")


def cmd_migrate(_: argparse.Namespace) -> None:
    _migrate(get_settings().database_url)
    print("migrated to head")


def cmd_seed(_: argparse.Namespace) -> None:
    url = get_settings().database_url
    _migrate(url)
    _seed(url, only_if_empty=False)


def cmd_serve(args: argparse.Namespace) -> None:
    import signal
    import threading

    import uvicorn

    from app.services import delivery

    settings = get_settings()
    url = settings.database_url
    _migrate(url)
    _seed(url, only_if_empty=True)
    # One webhook delivery worker beside the server (however many workers uvicorn runs),
    # stopped once the server has shut down; `evidencedb deliver` runs more elsewhere.
    stop = threading.Event()
    worker = threading.Thread(target=delivery.run, args=(settings,), kwargs={"stop": stop},
                              name="webhook-delivery", daemon=True)
    # uvicorn raises the signal that stopped it again once it has shut down (and one may
    # come before it listens): it is held until the worker has stopped too, then raised as
    # before.
    caught: list[int] = []

    class Stopping(SystemExit):
        """A stop signal outside uvicorn's own handling of it (an exit, which the event
        loop lets through)."""

    def hold(signum: int, _: object) -> None:
        caught.append(signum)
        raise Stopping

    held = {signum: signal.signal(signum, hold) for signum in (signal.SIGINT, signal.SIGTERM)}
    if settings.deliver_in_serve:
        worker.start()
    try:
        # No uvicorn access log: the service logs each request as JSON, without the query
        # string. No proxy headers: uvicorn would believe X-Forwarded-For from loopback, so
        # one client could name itself anew on every request; EVIDENCEDB_TRUSTED_PROXIES
        # decides instead. The HTTP protocol bounds the time a request's headers may take
        # (app/server.py).
        uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level=args.log_level, access_log=False,
                    http="app.server:HeaderTimeoutProtocol", proxy_headers=False,
                    timeout_keep_alive=5,
                    timeout_graceful_shutdown=args.graceful_timeout)
    except Stopping:
        pass
    finally:
        stop.set()
        if worker.is_alive():
            # A request in flight ends within the webhook timeout; a claim left unfinished
            # would only expire and be sent again by the next worker.
            worker.join(timeout=settings.webhook_timeout_s + 5)
            print("webhook delivery worker stopped", file=sys.stderr, flush=True)
        for held_signal, handler in held.items():
            signal.signal(held_signal, handler)
        for caught_signal in caught:
            signal.raise_signal(caught_signal)


def cmd_prune(_: argparse.Namespace) -> None:
    """Delete idempotency records, finished webhook deliveries and (when a feed retention
    is set) old changes, by the ages the settings keep."""
    from app.db import make_engine, make_sessionmaker
    from app.services import retention
    from app.types import utcnow

    settings = get_settings()
    _migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            counts = retention.prune(session, settings, utcnow())
            session.commit()
    finally:
        engine.dispose()
    print("pruned " + ", ".join(f"{n} {what}" for what, n in counts.items()))


def cmd_deliver(args: argparse.Namespace) -> None:
    """Send the webhook deliveries the outbox owes until stopped (or, with --once, until
    none is due)."""
    import signal
    import threading

    from app.observability import configure_logging
    from app.services import delivery

    # SIGTERM and Ctrl-C finish the request in flight, give back unsent claims and stop;
    # taken first, so a stop while the worker is still starting (migrating) is clean too.
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # Said once the stop is taken: a supervisor (or a test) that waits for this line knows a
    # SIGTERM from then on ends the worker cleanly; before it, the signal's default applies.
    print(f"delivery worker {os.getpid()} started; SIGTERM or Ctrl-C stops it cleanly",
          flush=True)
    settings = get_settings()
    configure_logging(settings.log_level)
    _migrate(settings.database_url)
    sent = delivery.run(settings, once=args.once, stop=stop)
    print(f"{sent} deliveries attempted")


def cmd_load(args: argparse.Namespace) -> None:
    import time

    from app.db import begin_write, make_engine, make_sessionmaker
    from app.services import batch_gc, bulk, load_finish, load_resume, rendered

    url = get_settings().database_url
    _migrate(url)
    engine = make_engine(url)
    report = bulk.LoadReport()
    progress = sys.stderr.isatty()
    started = time.monotonic()
    cache = bulk.new_vocab_cache()
    sha256 = load_resume.file_sha256(args.file)
    try:
        with open(args.file, "rb") as lines, make_sessionmaker(engine)() as session:
            done = load_resume.loaded_lines(session, args.file, sha256)
            session.rollback()
            if done.ranges:
                print(f"resuming: {done.studies} studies of this file were loaded by an earlier "
                      f"run ({len(done.ranges)} batches); their lines are skipped")
            else:
                print("starting clean: no batch of this file was loaded before")
            renderer = load_finish.Renderer(url)
            with batch_gc.batch_collection() as after_batch:
                for batch in bulk.read_ahead(lines, args.batch_size, report.errors, done):
                    try:
                        begin_write(session)  # the renderer writes too (SQLite: queue first)
                        report.loaded += bulk.load_batch(session, batch, source=args.file,
                                                         actor_id=None, vocab_cache=cache,
                                                         sha256=sha256, committed=renderer)
                        report.batches += 1
                    except bulk.BatchError as exc:
                        report.errors.append(exc)
                    after_batch()
                    if progress:
                        rate = report.loaded / max(time.monotonic() - started, 1e-9)
                        print(f"\r{report.loaded} studies loaded ({rate:,.0f}/s)", end="",
                              file=sys.stderr, flush=True)
            for failure in renderer.close():
                print(f"rendering a batch failed ({failure}); rendered again below",
                      file=sys.stderr)
            # Whatever an earlier, stopped run or a failed render left unrendered.
            rendered.fill(session)
            if report.loaded:
                load_finish.refresh_statistics(session)
    finally:
        engine.dispose()
    if progress:
        print(file=sys.stderr)
    for error in report.errors:
        print(f"{args.file}: {error} (its batch was not loaded)", file=sys.stderr)
    print(f"loaded {report.loaded} studies in {time.monotonic() - started:.1f} s "
          f"({report.batches} batches, {len(report.errors)} rejected)")
    if report.errors:
        sys.exit(1)


def cmd_render(_: argparse.Namespace) -> None:
    import time

    from app.db import make_engine, make_sessionmaker
    from app.services import rendered

    url = get_settings().database_url
    _migrate(url)
    engine = make_engine(url)
    started = time.monotonic()
    try:
        with make_sessionmaker(engine)() as session:
            done = rendered.fill(session)
    finally:
        engine.dispose()
    print(f"rendered {done} studies in {time.monotonic() - started:.1f} s")


@contextmanager
def _key_session() -> Iterator[Session]:
    from app.db import make_engine, make_sessionmaker

    url = get_settings().database_url
    _migrate(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


def cmd_keys_create(args: argparse.Namespace) -> None:
    from app.enums import Role
    from app.services import keys

    with _key_session() as session:
        key, token = keys.create(session, name=args.name, role=Role(args.role.upper()))
        print(f"created {key.role.value.lower()} key {key.id} {key.name!r} "
              f"(prefix {key.prefix}); it is shown once, here:")
    print(token)


def cmd_keys_list(_: argparse.Namespace) -> None:
    from app.services import keys

    with _key_session() as session:
        rows = keys.list_all(session)
    print(f"{'id':>4}  {'prefix':<12}  {'role':<7}  {'created':<20}  {'last used':<20}  "
          f"{'revoked':<20}  name")
    for k in rows:
        def when(value: object) -> str:
            return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"  # type: ignore[attr-defined]

        print(f"{k.id:>4}  {k.prefix:<12}  {k.role.value.lower():<7}  {when(k.created_at):<20}  "
              f"{when(k.last_used_at):<20}  {when(k.revoked_at):<20}  {k.name}")


def cmd_keys_revoke(args: argparse.Namespace) -> None:
    from app.services import keys

    with _key_session() as session:
        try:
            key = keys.revoke(session, args.prefix)
        except keys.KeyProblem as exc:
            sys.exit(f"not revoked: {exc}")
        print(f"revoked key {key.id} {key.name!r} (prefix {key.prefix})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evidencedb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate, seed an empty database and serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--graceful-timeout", type=int, default=20, metavar="SECONDS",
                       help="on SIGTERM, how long requests in flight may take to finish")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply every migration").set_defaults(func=cmd_migrate)
    sub.add_parser("seed", help="load the curated seed data (idempotent)").set_defaults(
        func=cmd_seed)
    imp = sub.add_parser("import-ctgov",
                         help="import ClinicalTrials.gov API v2 study records (files, folders, "
                              "or the registry's full dump as a ZIP)")
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.add_argument("--batch-size", type=int, default=200,
                     help="files written per transaction (default 200)")
    imp.add_argument("--progress-every", type=int, default=1000,
                     help="a progress line every N files when not on a terminal")
    imp.set_defaults(func=cmd_import_ctgov)
    load = sub.add_parser("load", help="bulk-load study documents, one JSON per line")
    load.add_argument("file")
    load.add_argument("--batch-size", type=int, default=1000)
    load.set_defaults(func=cmd_load)
    sub.add_parser("render", help="render the nested parts (as list pages and study reads "
                   "answer them) of every study whose stored render is missing or out of "
                   "date (after an upgrade)").set_defaults(
        func=cmd_render)
    deliver = sub.add_parser("deliver", help="send the webhook deliveries that are due")
    deliver.add_argument("--once", action="store_true",
                         help="stop when no delivery is due instead of waiting for more")
    deliver.set_defaults(func=cmd_deliver)
    sub.add_parser("prune", help="delete idempotency records, finished deliveries and old "
                   "changes by age").set_defaults(func=cmd_prune)
    keys = sub.add_parser("keys", help="create, list and revoke API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", required=True, choices=["reader", "curator", "admin"])
    create.add_argument("--name", required=True, help="whose key this is, e.g. an email")
    create.set_defaults(func=cmd_keys_create)
    keys_sub.add_parser("list", help="list keys (never their secret)").set_defaults(
        func=cmd_keys_list)
    revoke = keys_sub.add_parser("revoke", help="revoke the key with this prefix")
    revoke.add_argument("prefix")
    revoke.set_defaults(func=cmd_keys_revoke)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
