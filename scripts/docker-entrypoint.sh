#!/bin/sh
# The image's roles; the same names as `make run`'s processes, /healthz and the README's "Scaling out".
#   migrate     apply migrations once (under a lock, so two at once are safe) and exit
#   web         daphne: pages, the API and WebSockets (migrates first unless BRUTE_MIGRATE=0)
#   marketfeed  the one market feed (needs REDIS_URL)
#   userstream  the one follower of the accounts' user data streams (needs REDIS_URL)
#   worker      a Celery worker (one or more)
#   beat        Celery beat (exactly one)
#   sniper      listings, exits, alerts and rule triggers (exactly one)
#   shadow      shadow mode's shipper (exactly one, only while moving databases; waits while off)
#   manage      any manage.py command
set -eu
role="${1:-web}"
shift || true
case "$role" in
  migrate) exec python manage.py migrate --no-input "$@" ;;
  web)
    if [ "${BRUTE_MIGRATE:-1}" != "0" ]; then python manage.py migrate --no-input; fi
    exec daphne -b 0.0.0.0 -p "${PORT:-8000}" --proxy-headers config.asgi:application ;;
  worker) exec celery -A config worker --loglevel INFO "$@" ;;
  beat) exec celery -A config beat --loglevel INFO --schedule "${BRUTE_VAR_DIR}/celerybeat-schedule" "$@" ;;
  marketfeed) exec python manage.py marketfeed "$@" ;;
  userstream) exec python manage.py userstream "$@" ;;
  sniper) exec python manage.py sniper "$@" ;;
  shadow) exec python manage.py shadow run --wait "$@" ;;
  manage) exec python manage.py "$@" ;;
  *) echo "unknown role '$role': use migrate, web, marketfeed, userstream, worker, beat, sniper, shadow or manage" >&2; exit 64 ;;
esac
