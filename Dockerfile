# syntax=docker/dockerfile:1
# evidencedb API image: pinned dependencies in a virtual environment built in one stage, copied
# into a slim runtime stage that runs as an unprivileged user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /srv/evidencedb
# Dependencies first (pinned in requirements.lock), so code changes reuse this layer.
COPY requirements.lock ./
RUN /opt/venv/bin/pip install -r requirements.lock
COPY pyproject.toml README.md ./
COPY app ./app
COPY alembic ./alembic
COPY seed_data ./seed_data
# Editable: the migrations and seed data are found beside the code, at the same path below.
RUN /opt/venv/bin/pip install --no-deps -e . \
    && find /srv/evidencedb -name '__pycache__' -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /srv/evidencedb \
    evidencedb
COPY --from=build /opt/venv /opt/venv
COPY --from=build /srv/evidencedb /srv/evidencedb
WORKDIR /srv/evidencedb
USER evidencedb
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
# One worker by default; docker-compose.yml sets --workers. No access log from uvicorn: the
# service writes its own JSON request lines, which leave out query strings. No proxy headers:
# EVIDENCEDB_TRUSTED_PROXIES decides whose X-Forwarded-For is believed.
CMD ["uvicorn", "app.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", \
     "--no-access-log", "--no-proxy-headers", "--timeout-graceful-shutdown", "20"]
