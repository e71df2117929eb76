"""Input that no endpoint could use, refused before any view sees it.

Bad input is a 400 in the usual error shape, never a 500: JSON nested deeper
than any real request needs (Python's parser and every recursive walk over it
would hit RecursionError), text with NUL (PostgreSQL cannot store it) or lone
UTF-16 surrogates (JSON's ``"\\ud800"`` decodes to a str that no driver, hash
or template can encode). Bodies over ``MAX_CONTENT_LENGTH`` are a 413.
"""

from __future__ import annotations

import re

from flask import Request, request
from werkzeug.exceptions import BadRequest

from peerloop.errors import ValidationError

MAX_JSON_DEPTH = 32
UNUSABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


class SafeRequest(Request):
    """Flask's request, with a JSON parser that answers 400 to what it cannot parse."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError as exc:  # json.loads on absurd nesting
            if silent:
                return None
            raise BadRequest("The JSON body is nested too deeply.") from exc


def input_problem(value) -> str | None:
    """Why ``value`` (decoded JSON, form or query data) cannot be used, or None.

    Iterative, so no depth of nesting can exhaust the stack.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."
        if isinstance(item, str):
            match = UNUSABLE_TEXT.search(item)
            if match:
                if match.group() == "\x00":
                    return "Text cannot contain NUL characters."
                return "Text must be valid Unicode (it holds a lone surrogate)."
        elif isinstance(item, dict):
            stack.extend((key, depth + 1) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)
    return None


def reject_unusable_input() -> None:
    """before_request: the path, query, form and JSON body hold only usable text.

    :raise ValidationError: ``invalid_input`` (400).
    """
    sources = [request.path, request.args.to_dict(flat=False), request.view_args or {}]
    # A provider's signed event is stored as it came (its signature, not this check, vouches for it).
    if request.method in {"POST", "PUT", "PATCH", "DELETE"} and not request.path.startswith("/webhooks/"):
        sources.append(request.form.to_dict(flat=False))
        if request.is_json:
            try:
                sources.append(request.get_json())
            except BadRequest as exc:
                raise ValidationError(
                    "Send a valid JSON object with Content-Type: application/json.", code="invalid_json"
                ) from exc
    for source in sources:
        problem = input_problem(source)
        if problem:
            raise ValidationError(problem, code="invalid_input")
