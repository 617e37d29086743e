import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Under WSGI (gunicorn's gthread workers) each request runs on one of the worker's fixed threads, so
# a thread's database connection is reused by its next request: opening and closing an SQLite file
# per request cost the web role about 2 ms of CPU per paper order (issue 11). Kept 60 s unless
# DATABASE_CONN_MAX_AGE says otherwise; ASGI keeps settings' default of 0 (its requests hop threads).
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")
application = get_wsgi_application()
