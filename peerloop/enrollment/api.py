"""The enrollment JSON API: a student self-marks a module (API.md, PUT /api/enrollments/:id/modules/:module_id)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.accounts.serializers import iso
from peerloop.api import json_body
from peerloop.enrollment import progress
from peerloop.errors import ValidationError

bp = Blueprint("enrollment_api", __name__)


def complete_flag(data: dict) -> bool:
    """``is_complete`` (or API.md's ``complete``): true or false.

    :raise ValidationError: missing, not a boolean, or the two disagree.
    """
    values = {name: data[name] for name in ("is_complete", "complete") if name in data}
    if not values:
        raise ValidationError("Say whether the module is done.", fields={"is_complete": "Required: true or false."})
    for name, value in values.items():
        if not isinstance(value, bool):
            raise ValidationError(f"{name} must be true or false.", fields={name: "Must be true or false."})
    if len(set(values.values())) > 1:
        raise ValidationError("is_complete and complete disagree.", fields={"is_complete": "Send one of them."})
    return next(iter(values.values()))


@bp.put("/enrollments/<enrollment_id>/modules/<module_id>")
@login_required
def mark_module(enrollment_id: str, module_id: str):
    complete = complete_flag(json_body())
    row = progress.mark_module(current_user, enrollment_id, module_id, complete=complete, now=clock.now())
    numbers = progress.progress_of([row.enrollment_id]).get(row.enrollment_id, progress.NO_PROGRESS)
    return jsonify(
        module_id=str(row.module_id),
        is_complete=row.is_complete,
        completed_at=iso(row.completed_at),
        progress=numbers.as_json(),
    )
