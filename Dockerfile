# One image for every role: migrate, web (gunicorn), live (uvicorn, WebSockets), marketfeed, worker, beat, sniper
# (scripts/docker-entrypoint.sh).
#   docker build -t brute .
#   docker run -e DJANGO_SECRET_KEY=... -e DJANGO_ALLOWED_HOSTS=brute.example.com -e BRUTE_FIELD_KEY=... brute web
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_ENV=production \
    BRUTE_VAR_DIR=/var/lib/brute
RUN groupadd --system brute && useradd --system --gid brute --home-dir /app --shell /usr/sbin/nologin brute \
    && mkdir -p /var/lib/brute /var/lib/brute-metrics /var/lib/brute-shadow \
    && chown brute:brute /var/lib/brute /var/lib/brute-metrics /var/lib/brute-shadow
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=brute:brute . /app
# collectstatic needs settings that production mode would otherwise demand at run time only.
RUN DJANGO_SECRET_KEY=build-only-build-only-build-only-build-only-build-only \
    DJANGO_ALLOWED_HOSTS=build BRUTE_FIELD_KEY=x0m6wqk2mJ8yQm3r2gkq6fJmJ6Y9tq5o1c8mRkT1ZzU= \
    BRUTE_VAR_DIR=/tmp/build-var python manage.py collectstatic --no-input -v0 \
    && cp -r /tmp/build-var/staticfiles /app/staticfiles && rm -rf /tmp/build-var && chown -R brute:brute /app/staticfiles
ENV BRUTE_STATIC_ROOT=/app/staticfiles
USER brute
VOLUME ["/var/lib/brute"]
EXPOSE 8000 8001
ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
CMD ["web"]
