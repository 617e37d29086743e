"""A MEXC-compatible spot exchange for tests and the offline demo (pure Python, no Django).

Run it with ``python manage.py simexchange --port 8765`` or in-process with
``trading.simexchange.testing.SimExchangeThread``. REST lives under ``/api/v3/``, the WebSocket at
``/ws`` (protobuf pushes, ``?listenKey=`` for private channels), scenario control under ``/_sim/``.

Demo account (10,000 USDT, 0.25 BTC, 3 ETH): key ``mx0BruteDemoKey001``,
secret ``b7e1d0c5a4f3e2d1c0b9a8f7e6d5c4b3``. As in the 2025-04-16 capture, BTCUSDT and ETHUSDT are
listed but closed to API trading (10007); SOLUSDT, XRPUSDT, MXUSDT and BTCUSDC are API-tradable.
"""
