from django.conf import settings
from django.http import HttpRequest

from accounts.models import User
from config.navigation import nav_for
from trading.exchanges import exchange_block
from trading.selectors import live_balances_state, trading_mode_for_user


def brute(request: HttpRequest) -> dict[str, object]:
    authenticated = request.user.is_authenticated
    mode = trading_mode_for_user(user=request.user) if isinstance(request.user, User) else "paper"
    return {
        "MEXC_SIMULATED": settings.MEXC_SIMULATED,
        # A 418 ban or 429 pause of MEXC, seen by any process: every page says so.
        "EXCHANGE_BLOCK": exchange_block(),
        "BRUTE_VERSION": settings.VERSION,
        # Set when browsers reach the WebSocket (live) process on its own port rather than via /ws/.
        "LIVE_WS_PORT": settings.LIVE_WS_PORT if settings.LIVE_WS_PUBLIC else None,
        "nav_items": nav_for(request) if authenticated else [],
        "trading_mode": mode,
        # Pages showing live balances say when they are still loading or could not be read.
        "live_balances": live_balances_state(user=request.user)
        if mode == "live" and isinstance(request.user, User)
        else None,
    }
