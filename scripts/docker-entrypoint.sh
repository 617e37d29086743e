#!/bin/sh
# The image's roles; the same names as `make run`'s processes, /healthz and the README's "Scaling out".
#   migrate     apply migrations once (under a lock, so two at once are safe) and exit
#   web         gunicorn: pages, the API and static files (migrates first unless BRUTE_MIGRATE=0)
#   live        uvicorn: the WebSockets (/ws/), on LIVE_WS_PORT (8001); the proxy routes /ws/ to it
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
    exec gunicorn -c python:config.gunicorn --bind "0.0.0.0:${PORT:-8000}" config.wsgi:application ;;
  live)
    exec uvicorn config.asgi:application --host 0.0.0.0 --port "${LIVE_WS_PORT:-8001}" --lifespan on \
      --ws config.live_ws:LiveWebSocketProtocol --backlog 2048 --no-access-log --log-level warning \
      --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" ;;
  worker) exec celery -A config worker --loglevel INFO "$@" ;;
  beat) exec celery -A config beat --loglevel INFO --schedule "${BRUTE_VAR_DIR}/celerybeat-schedule" "$@" ;;
  marketfeed) exec python manage.py marketfeed "$@" ;;
  userstream) exec python manage.py userstream "$@" ;;
  sniper) exec python manage.py sniper "$@" ;;
  shadow) exec python manage.py shadow run --wait "$@" ;;
  manage) exec python manage.py "$@" ;;
  *) echo "unknown role '$role': use migrate, web, live, marketfeed, userstream, worker, beat, sniper, shadow or manage" >&2; exit 64 ;;
esac
