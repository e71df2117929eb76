"""Payments: checkout, the ledger, refunds, disputes, Connect and payouts (issue 6).

``money`` holds the pure arithmetic (the 15 / 15 / 70 split from configuration, the
teaching share per delivered session, refund breakdowns); ``models`` the rows;
``interfaces`` the ``PaymentGateway`` Protocol with ``stripe_gateway`` and
``sandbox`` behind it; ``services`` the use cases and the Stripe event handlers;
``views`` and ``api`` the pages and the JSON. Inbound provider events are stored
and dispatched by ``peerloop/webhooks/``.
"""
