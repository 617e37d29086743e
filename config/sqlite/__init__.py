"""The embedded default database: Django's own SQLite backend on the standard library's sqlite3.

Chosen over the libsql driver for `file:` URLs because sqlite3 releases the GIL around every
statement, COMMIT and busy wait, so database work in one thread no longer stalls the event loop of
the same process (a counting thread keeps ~98 % of its solo rate beside sqlite3, ~50 % beside
libsql: `python -m bench gil`). The thin subclass adds what Brute needs of every connection:

- write transactions begin IMMEDIATE (OPTIONS['transaction_mode']): a deferred transaction that
  read first and then needs the write lock after another connection committed can never get it;
- WAL with synchronous=NORMAL (readers never block the writer; one fsync per checkpoint rather than
  per commit, durable across process crashes, the last commits may roll back on power loss);
- the busy timeout (OPTIONS['timeout']) waits in SQLite's C busy handler, outside the GIL;
- the database file is created 0600 (SQLite gives its -wal and -shm files the same mode), and an
  existing file readable by others is narrowed to 0600 on connect;
- SQL arithmetic over exact decimal columns is refused (config/fields.py).
"""
