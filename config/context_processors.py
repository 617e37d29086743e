from django.conf import settings
from django.http import HttpRequest


def brute(request: HttpRequest) -> dict[str, object]:
    return {"MEXC_SIMULATED": settings.MEXC_SIMULATED, "BRUTE_VERSION": settings.VERSION}
