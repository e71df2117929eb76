"""JSON shapes for courses."""

from __future__ import annotations

from flask import current_app

from peerloop.accounts.serializers import iso, user_card_json
from peerloop.catalog import services
from peerloop.payments.money import rates_from_config


def _rating(value) -> float | None:
    return float(value) if value is not None else None


def course_summary_json(course) -> dict:
    return {
        "id": str(course.id),
        "slug": course.slug,
        "title": course.title,
        "tagline": course.tagline,
        "level": course.level.value,
        "price_cents": course.price_cents,
        "currency": course.currency,
        "thumbnail_url": course.thumbnail_url,
        "category": {"slug": course.category.slug, "name": course.category.name},
        "creator": user_card_json(course.creator),
        "rating": _rating(course.rating),
        "rating_count": course.rating_count or 0,
        "student_count": course.student_count,
        "session_count": course.session_count or 0,
        "badge": course.badge.value if course.badge else None,
        "duration": course.duration,
    }


def course_detail_json(course) -> dict:
    data = course_summary_json(course)
    data.update(
        description=course.description,
        duration_weeks=course.duration_weeks,
        total_duration=course.total_duration,
        format=course.format,
        module_count=course.module_count if course.module_count is not None else len(course.modules),
        lesson_count=course.lesson_count,
        lifetime_access=course.lifetime_access,
        has_certificate=course.has_certificate,
        certificate_name=course.certificate_name,
        is_active=course.is_active,
        is_retired=course.is_retired,
        tags=[t.tag for t in course.tags],
        objectives=[o.objective for o in course.objectives],
        includes=[i.item for i in course.includes],
        prerequisites={
            kind: [p.content for p in items] for kind, items in services.prerequisites_by_type(course).items()
        },
        target_audience=[a.description for a in course.target_audience],
        testimonials=[
            {"quote": t.quote, "student_name": t.student_name, "student_role": t.student_role}
            for t in course.testimonials
            if t.is_featured
        ],
        curriculum=[
            {
                "id": str(m.id),
                "title": m.title,
                "description": m.description,
                "duration": m.duration,
                "session_number": m.session_number,
                "module_order": m.module_order,
                "learning_objectives": m.learning_objectives,
                "topics_covered": m.topics_covered,
                "hands_on_exercise": m.hands_on_exercise,
                "has_assessment": bool(m.has_assessment),
            }
            for m in course.modules
        ],
        peerloop_features=(
            {
                "one_on_one_teaching": course.features.one_on_one_teaching,
                "certified_teachers": course.features.certified_teachers,
                "earn_while_teaching": course.features.earn_while_teaching,
                # The configured split, never the stored column: one place for the percentages.
                "teacher_commission": rates_from_config(current_app.config).teacher_pct,
            }
            if course.features
            else None
        ),
        created_at=iso(course.created_at),
    )
    creator = course.creator
    data["creator"] = user_card_json(creator)
    if creator.privacy_public:  # a private profile shows name, handle and avatar only
        data["creator"].update(
            title=creator.title,
            bio_short=creator.bio_short,
            qualifications=[q.sentence for q in creator.qualifications],
        )
    return data


def teacher_json(card) -> dict:
    return {
        **user_card_json(card.user),
        "rating": card.rating,
        "students_taught": card.students_taught,
        "is_creator": card.is_creator,
        "next_available": card.next_available,
    }
