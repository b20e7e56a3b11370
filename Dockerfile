FROM python:3.11-slim
WORKDIR /srv/evidencedb
COPY pyproject.toml README.md ./
COPY app ./app
COPY alembic ./alembic
COPY seed_data ./seed_data
RUN pip install --no-cache-dir -e . && useradd --create-home evidencedb
USER evidencedb
EXPOSE 8000
CMD ["evidencedb", "serve", "--host", "0.0.0.0", "--port", "8000"]
