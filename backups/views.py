from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import operator_required
from backups import selectors, services
from backups.errors import BackupError
from backups.models import BackupRun
from backups.storage import backup_store
from config.shadow.services import shadow_status
from config.typing import HtmxRequest

KINDS = ("full", "incremental", "verify")


@require_GET
@operator_required
def backup_index(request: HttpRequest) -> HttpResponse:
    context = {
        "rows": selectors.backup_rows(),
        "runs": selectors.backup_run_list(),
        "shadow": shadow_status(timeout=2.0),
    }
    return render(request, "backups/index.html", context)


@require_POST
@operator_required
def backup_start(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "full")
    if kind not in KINDS:
        return HttpResponseBadRequest(
            f"Unknown kind of run {kind[:40]!r}: choose one of {', '.join(KINDS)}.", content_type="text/plain"
        )
    run = services.backup_run_request(
        action=BackupRun.Action.VERIFY if kind == "verify" else BackupRun.Action.CREATE,
        incremental=kind == "incremental",
        note=request.POST.get("note", "")[:200],
        user=request.user,
    )
    return redirect("backups:run", run_id=run.pk)


@require_GET
@operator_required
def backup_run_detail(request: HtmxRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(BackupRun, pk=run_id)
    template = "backups/run.html#progress" if request.htmx else "backups/run.html"
    return render(request, template, {"run": run})


@require_GET  # type: ignore[type-var]  # a file streams: not a plain HttpResponse
@operator_required
def backup_download(request: HttpRequest, backup_id: str) -> HttpResponseBase:
    listing = next((item for item in selectors.backup_list() if item.id == backup_id), None)
    if listing is None or listing.summary is None:
        raise Http404("No such backup")
    if not listing.downloadable:
        return _gone(request, backup_id, listing.problem)
    try:
        handle = backup_store().open(listing.summary.archive)
    except BackupError as exc:  # deleted between the listing and now
        return _gone(request, backup_id, str(exc))
    return FileResponse(handle, as_attachment=True, filename=listing.summary.archive)


def _gone(request: HttpRequest, backup_id: str, problem: str) -> HttpResponse:
    context = {"backup_id": backup_id, "problem": problem}
    return render(request, "backups/gone.html", context, status=410)
