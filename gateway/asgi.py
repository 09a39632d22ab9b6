"""The gateway process's entry: `uvicorn gateway.asgi:application` (Procfile's `gateway`)."""

import logging
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")
django.setup()

from gateway.app import Gateway, RequestIdFilter  # noqa: E402  (after Django is set up)

for handler in logging.getLogger().handlers:
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))

application = Gateway()
