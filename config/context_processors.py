from django.conf import settings
from django.http import HttpRequest

from config.navigation import nav_for


def brute(request: HttpRequest) -> dict[str, object]:
    authenticated = request.user.is_authenticated
    return {
        "MEXC_SIMULATED": settings.MEXC_SIMULATED,
        "BRUTE_VERSION": settings.VERSION,
        "nav_items": nav_for(request) if authenticated else [],
        "trading_mode": "paper",
    }
