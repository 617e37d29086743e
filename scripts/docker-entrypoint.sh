#!/bin/sh
# The image's roles. `web` applies migrations first; the others wait for the web role to have done so.
set -eu
role="${1:-web}"
shift || true
case "$role" in
  web)
    python manage.py migrate --no-input
    exec daphne -b 0.0.0.0 -p "${PORT:-8000}" --proxy-headers config.asgi:application ;;
  worker) exec celery -A config worker --loglevel INFO "$@" ;;
  beat) exec celery -A config beat --loglevel INFO --schedule "${BRUTE_VAR_DIR}/celerybeat-schedule" "$@" ;;
  marketfeed) exec python manage.py marketfeed "$@" ;;
  manage) exec python manage.py "$@" ;;
  *) echo "unknown role '$role': use web, worker, beat, marketfeed or manage" >&2; exit 64 ;;
esac
