"""Shadow mode's periodic task: thin, the work is in config.shadow.services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from config.shadow.services import shadow_verify_and_alert


@shared_task(name="shadow.verify")
def verify() -> dict[str, Any]:
    """Compares the shadow with the primary; a divergence reaches the operators' inbox. No-op when off."""
    return shadow_verify_and_alert()
