# The notes service: gunicorn on port 8000, data in the /data volume.
# Behind a TLS-terminating proxy (NOTES_HTTPS=true, the default here).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent notes \
    && mkdir -p /data/attachments && chown -R notes /data

COPY requirements.txt .
RUN pip install --requirement requirements.txt

COPY . .
# Settings need a key to load; this throwaway one exists only during the build.
RUN SECRET_KEY="collectstatic-only-$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    NOTES_DATA_DIR=/tmp/build-data python manage.py collectstatic --noinput --verbosity 0 \
    && rm -rf /tmp/build-data

ENV NOTES_DATA_DIR=/data \
    NOTES_HTTPS=true \
    GUNICORN_BIND=0.0.0.0:8000
VOLUME ["/data"]
USER notes
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Migrations run at start unless NOTES_MIGRATE_ON_START=false (several
# replicas: run `python manage.py migrate` once as a separate step instead).
CMD ["sh", "-c", "if [ \"${NOTES_MIGRATE_ON_START:-true}\" = true ]; then python manage.py migrate --noinput; fi && exec gunicorn --config python:notesite.gunicorn"]
