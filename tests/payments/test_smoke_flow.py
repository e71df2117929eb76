import sqlalchemy as sa

from peerloop.extensions import db
from peerloop.payments.models import LedgerAccount, LedgerEntry
from tests.payments.conftest import ledger_sum, transaction_for


def test_purchase_through_sandbox_creates_enrollment_and_ledger(make, purchase):
    course = make.course(details=True)
    teacher = make.user()
    make.student_teacher(teacher, course)
    student = make.user()
    enrollment = purchase(student, course, teacher=teacher)
    assert enrollment is not None
    txn = transaction_for(enrollment)
    assert ledger_sum(txn.id) == 39900
    rows = db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.transaction_id == txn.id)).all()
    assert {(r.account, r.amount_cents) for r in rows} >= {
        (LedgerAccount.platform, 5985),
        (LedgerAccount.earnings, 5985),
        (LedgerAccount.pool, 27930),
    }
