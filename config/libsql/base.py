# Interim: Django's SQLite backend until the libsql driver backend replaces this module.
from django.db.backends.sqlite3.base import DatabaseWrapper

__all__ = ["DatabaseWrapper"]
