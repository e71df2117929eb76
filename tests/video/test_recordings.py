"""Recording storage: the local folder (no way out of it), an S3-compatible bucket through boto3
(its requests checked with botocore's Stubber), and a copy that fails waiting for the sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import responses
import sqlalchemy as sa

from peerloop.extensions import db
from peerloop.video import recordings
from peerloop.video.models import ResourceType, SessionResource
from tests.conftest import run_jobs

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_the_local_folder_keeps_keys_inside_it(tmp_path):
    folder = recordings.LocalFolder(str(tmp_path / "rec"))
    source = tmp_path / "part"
    source.write_bytes(b"x")
    folder.save("a/b.mp4", source, "video/mp4")
    assert folder.local_path("a/b.mp4").read_bytes() == b"x" and not source.exists()
    with pytest.raises(ValueError):
        folder.local_path("../../etc/passwd")


def test_the_bucket_gets_the_file_under_its_prefix_and_hands_out_short_lived_addresses(tmp_path, monkeypatch):
    from botocore.stub import ANY, Stubber

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = recordings.S3Bucket("peerloop-rec", endpoint_url="http://minio.example:9000", prefix="recordings/")
    source = tmp_path / "part"
    source.write_bytes(b"video")
    with Stubber(bucket.client) as stub:
        stub.add_response(
            "put_object",
            {},
            {
                "Bucket": "peerloop-rec",
                "Key": "recordings/s/r.mp4",
                "Body": ANY,
                "ContentType": "video/mp4",
                "ChecksumAlgorithm": ANY,
            },
        )
        bucket.save("s/r.mp4", source, "video/mp4")
        stub.assert_no_pending_responses()
    assert not source.exists()
    url = bucket.url("s/r.mp4", seconds=600)
    assert (
        url.startswith("http://minio.example:9000/peerloop-rec/recordings/s/r.mp4?")
        and "Expires=" in url
        or ("X-Amz-Expires=600" in url)
    )


@responses.activate
def test_a_copy_that_fails_is_tried_again_later_and_keeps_its_error(app, paid_world, now, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "RECORDINGS_DIR", str(tmp_path))
    session = paid_world.book(now.replace(hour=16), now=now)
    resource = SessionResource(
        session_id=session.id,
        course_id=paid_world.course.id,
        type=ResourceType.recording,
        name="Recording",
        source_url="https://files.example/rec.mp4",
        next_copy_at=NOW,
    )
    db.session.add(resource)
    db.session.commit()
    responses.get("https://files.example/rec.mp4", status=503)
    assert recordings.copy_recording(resource.id, now=NOW) == "failed"
    db.session.refresh(resource)
    assert resource.copy_attempts == 1 and "503" in resource.copy_error and resource.storage_key is None
    assert resource.next_copy_at == NOW + timedelta(minutes=5)
    assert recordings.retry_recording_copies(NOW + timedelta(minutes=4)) == 0
    responses.replace(responses.GET, "https://files.example/rec.mp4", body=b"ok", content_type="video/webm")
    assert recordings.retry_recording_copies(NOW + timedelta(minutes=5)) == 1
    run_jobs(app)  # inline it ran already; on Redis a burst worker runs it
    db.session.expire_all()
    stored = db.session.scalar(sa.select(SessionResource).where(SessionResource.id == resource.id))
    assert stored.storage_key.endswith(".webm") and stored.size_bytes == 2 and stored.next_copy_at is None
    assert recordings.copy_recording(resource.id, now=NOW) == "already stored"
