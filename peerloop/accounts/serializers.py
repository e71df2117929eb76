"""JSON shapes for people."""

from __future__ import annotations

from peerloop.accounts.services import roles_of


def iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def me_json(user) -> dict:
    return {
        "id": str(user.id),
        "email": user.email,
        "email_verified": user.email_verified,
        "name": user.name,
        "handle": user.handle,
        "avatar_url": user.avatar_url,
        "roles": roles_of(user),
        "timezone": user.timezone,
        "privacy_public": user.privacy_public,
    }


def user_card_json(user) -> dict:
    return {"id": str(user.id), "name": user.name, "handle": user.handle, "avatar_url": user.avatar_url}


def public_user_json(profile) -> dict:
    user = profile.user
    data = {**user_card_json(user), "private": not profile.full}
    teaching = [
        {
            "course_id": str(st.course.id),
            "course_slug": st.course.slug,
            "course_title": st.course.title,
            "students_taught": st.students_taught,
            "rating": profile.ratings.get(st.course_id),
        }
        for st in profile.teaching
    ]
    data["teaching"] = teaching
    data["courses_created"] = [{"id": str(c.id), "slug": c.slug, "title": c.title} for c in profile.created_courses]
    if profile.full:
        data.update(
            title=user.title,
            bio=user.bio,
            bio_short=user.bio_short,
            website=user.website,
            teaching_philosophy=user.teaching_philosophy,
            qualifications=[q.sentence for q in user.qualifications],
            expertise=[e.tag for e in user.expertise],
            interests=[i.tag for i in user.interests],
            joined_at=iso(user.created_at),
        )
    return data
