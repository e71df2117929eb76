"""Meeting: video rooms behind the VideoProvider seam (issue 8), built in steps.

Built so far: ``interfaces`` (the Protocol, our room/participant/event shapes, ``VideoError``) and
the adapters. The models, services, join endpoint, webhooks and pages come with the rest of the
issue; nothing in the app calls these yet.
"""
