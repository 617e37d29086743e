from celery import shared_task

from config.api_idempotency import idempotency_keys_prune as prune
from config.health import ROLES, role_heartbeat

HEARTBEAT_KEY = ROLES["worker"].key


@shared_task(name="config.tasks.heartbeat", time_limit=10, soft_time_limit=8)
def heartbeat() -> str:
    """Lets /healthz tell a live worker from a dead one."""
    return role_heartbeat("worker")


@shared_task(name="config.tasks.idempotency_keys_prune", time_limit=120, soft_time_limit=100)
def idempotency_keys_prune() -> int:
    return prune()


from config.shadow import tasks as _shadow_tasks  # noqa: E402, F401 (registers shadow.verify with Celery)
