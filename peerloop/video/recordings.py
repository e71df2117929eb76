"""Copying a provider's recording to our storage, and handing it to the session's two people.

A recording-ready event makes a ``SessionResource`` row; ``copy_recording`` asks the provider for a
fresh address (download links expire) and streams the file to storage: a local folder by default
(``RECORDINGS_DIR``), an S3-compatible bucket through boto3 when ``RECORDINGS_S3_BUCKET`` is set.
A copy that fails is tried again by the sweep with a back-off; the row keeps the last error.
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import requests
import sqlalchemy as sa
from flask import current_app

from peerloop import clock, jobs
from peerloop.db import for_update
from peerloop.extensions import db
from peerloop.scheduling.models import TutoringSession
from peerloop.video.interfaces import Room, VideoError
from peerloop.video.models import ResourceType, SessionResource

MAX_COPY_ATTEMPTS = 10  # 5, 10, 20 … minutes apart, then it waits in the console
DOWNLOAD_TIMEOUT = 60
CHUNK = 1024 * 1024


class RecordingStorage(Protocol):
    def save(self, key: str, path: Path, mime_type: str) -> None: ...

    def local_path(self, key: str) -> Path | None: ...  # a file we serve ourselves, or None

    def url(self, key: str, *, seconds: int = 900) -> str | None: ...  # a short-lived address, or None


class LocalFolder:
    def __init__(self, root: str):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key outside the folder: {key!r}")
        return path

    def save(self, key: str, path: Path, mime_type: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)  # same filesystem as the temporary file: atomic

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    def url(self, key: str, *, seconds: int = 900) -> str | None:
        return None


class S3Bucket:
    def __init__(self, bucket: str, *, endpoint_url: str | None, prefix: str = ""):
        import boto3  # only when a bucket is configured

        self.bucket = bucket
        self.prefix = prefix
        self.client = boto3.client("s3", endpoint_url=endpoint_url)

    def save(self, key: str, path: Path, mime_type: str) -> None:
        self.client.upload_file(str(path), self.bucket, self.prefix + key, ExtraArgs={"ContentType": mime_type})
        path.unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return None

    def url(self, key: str, *, seconds: int = 900) -> str | None:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.prefix + key}, ExpiresIn=seconds
        )


def storage() -> RecordingStorage:
    config = current_app.config
    if config.get("RECORDINGS_S3_BUCKET"):
        return S3Bucket(
            config["RECORDINGS_S3_BUCKET"],
            endpoint_url=config.get("RECORDINGS_S3_ENDPOINT_URL"),
            prefix=config.get("RECORDINGS_S3_PREFIX") or "",
        )
    return LocalFolder(config["RECORDINGS_DIR"])


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=5 * 2 ** max(attempts - 1, 0))


def _fresh_url(resource: SessionResource, session: TutoringSession) -> str | None:
    """Where the provider serves it now (PlugNmeet's and Daily's links expire), else the event's."""
    from peerloop.video.services import provider

    video = provider()
    if not video.sends_webhooks or not resource.provider_recording_id:
        return resource.source_url
    if session.video_provider not in (None, video.name):
        return resource.source_url  # recorded on a provider we have since left
    room_id = f"peerloop-{session.id}"
    room = Room(room_id=room_id, provider_room_id=session.video_room_id or room_id, url=session.video_room_url)
    return video.get_recording(room, resource.provider_recording_id).url or resource.source_url


def _download(url: str) -> tuple[Path, int, str]:
    with requests.get(url, stream=True, timeout=DOWNLOAD_TIMEOUT) as response:
        response.raise_for_status()
        mime = (response.headers.get("Content-Type") or "video/mp4").split(";")[0].strip().lower() or "video/mp4"
        if mime == "application/octet-stream":
            mime = "video/mp4"
        if not mime.startswith(("video/", "audio/")):
            # An error page, not a recording: never stored, never served from our origin.
            raise OSError(f"the provider answered {mime}, not a recording")
        folder = current_app.config["RECORDINGS_DIR"]
        Path(folder).mkdir(parents=True, exist_ok=True)
        size = 0
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".partial-", delete=False) as handle:
            try:
                for chunk in response.iter_content(CHUNK):
                    handle.write(chunk)
                    size += len(chunk)
            except BaseException:
                Path(handle.name).unlink(missing_ok=True)
                raise
    return Path(handle.name), size, mime


def copy_recording(resource_id, *, now: datetime) -> str:
    """Copy one recording to storage. Idempotent: a stored one is left alone. Returns "stored",
    "not ready" (the provider is still processing it), "failed", "already stored" or "missing"."""
    resource = db.session.get(SessionResource, uuid.UUID(str(resource_id)))
    if resource is None or resource.type != ResourceType.recording:
        return "missing"
    if resource.storage_key is not None:
        return "already stored"
    session = db.session.get(TutoringSession, resource.session_id) if resource.session_id else None
    db.session.rollback()  # no transaction open across the download
    try:
        url = _fresh_url(resource, session) if session is not None else resource.source_url
        if not url:
            return _record_attempt(resource.id, now=now, error="The provider is still processing it.", ready=False)
        path, size, mime = _download(url)
    except (VideoError, requests.RequestException, OSError) as error:
        return _record_attempt(resource.id, now=now, error=f"{error.__class__.__name__}: {error}"[:2000])
    extension = mimetypes.guess_extension(mime) or ".mp4"
    key = f"{resource.session_id or resource.course_id}/{resource.id}{extension}"
    try:
        storage().save(key, path, mime)
    except Exception as error:  # a bucket refusing: keep the row retryable
        path.unlink(missing_ok=True)
        return _record_attempt(resource.id, now=now, error=f"{error.__class__.__name__}: {error}"[:2000])
    locked = db.session.scalar(for_update(sa.select(SessionResource).where(SessionResource.id == resource.id)))
    locked.storage_key, locked.size_bytes, locked.mime_type = key, size, mime
    locked.copy_attempts += 1
    locked.next_copy_at, locked.copy_error = None, None
    db.session.commit()
    return "stored"


def _record_attempt(resource_id: uuid.UUID, *, now: datetime, error: str, ready: bool = True) -> str:
    locked = db.session.scalar(for_update(sa.select(SessionResource).where(SessionResource.id == resource_id)))
    if locked is None or locked.storage_key is not None:
        db.session.commit()
        return "already stored"
    locked.copy_attempts += 1
    locked.copy_error = error
    locked.next_copy_at = now + _backoff(locked.copy_attempts) if locked.copy_attempts < MAX_COPY_ATTEMPTS else None
    db.session.commit()
    return "failed" if ready else "not ready"


def copy_recording_job(resource_id: str) -> str:
    return copy_recording(resource_id, now=clock.now())


def retry_recording_copies(now: datetime) -> int:
    """Sweep step: recordings whose copy failed or was not ready, due again. Returns how many were queued."""
    due = list(
        db.session.scalars(
            sa.select(SessionResource.id)
            .where(
                SessionResource.type == ResourceType.recording,
                SessionResource.storage_key.is_(None),
                SessionResource.next_copy_at <= now,
            )
            .limit(50)
        )
    )
    if due:
        db.session.execute(
            sa.update(SessionResource)
            .where(SessionResource.id.in_(due))
            .values(next_copy_at=now + timedelta(minutes=5))
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return sum(jobs.enqueue(copy_recording_job, resource_id) is not None for resource_id in due)


def recordings_of(session: TutoringSession) -> list[SessionResource]:
    """The session's stored recordings, for its page."""
    return list(
        db.session.scalars(
            sa.select(SessionResource)
            .where(
                SessionResource.session_id == session.id,
                SessionResource.type == ResourceType.recording,
                SessionResource.storage_key.is_not(None),
            )
            .order_by(SessionResource.created_at)
        )
    )
