"""Shadow mode: move a running installation between the embedded file and sqld/Turso without downtime.

core.py   capture triggers, snapshot, shipping, verification, cut-over and roll-back (no Django)
db.py     the small connection surface over stdlib sqlite3 and the Hrana client
state.py  the state file settings.py reads at start-up (stdlib only)
services.py / tasks.py   the Django side: status for pages and /healthz, verification alerts
`manage.py shadow start --to URL | status | run | verify | cutover | rollback | stop`.
"""
