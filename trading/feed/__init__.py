"""The market feed: exchange streams -> current state in memory -> one coalesced frame per Channels group.

Runs as `python manage.py marketfeed` when REDIS_URL is set (the channel layer then reaches every live
process), and inside the live (WebSocket) process otherwise (see `trading.feed.inprocess`). Message
formats are documented in `trading/consumers.py`.
"""
