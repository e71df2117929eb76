"""Payments: checkout, the ledger, refunds and payouts (issue 6).

Built so far: ``money``, the pure arithmetic every money movement uses (the
15 / 15 / 70 split, the teaching share released per delivered session, the
default and custom refund breakdowns), and ``rates_from_config``, which reads
the split percentages from their one place, the app's configuration
(``SPLIT_PLATFORM_PCT``, ``SPLIT_CREATOR_PCT``, ``SPLIT_TEACHER_PCT``).

To come with the rest of the issue: the models (``Checkout``, ``Transaction``,
``LedgerEntry``, ``Refund``, ``Payout``, ``PayoutBatch``), ``interfaces.py``
(the ``PaymentGateway`` Protocol), ``stripe_gateway.py``, ``sandbox.py``,
``services.py``, ``api.py`` and ``views.py``. Inbound provider events live in
``peerloop/webhooks/``, not here.
"""
