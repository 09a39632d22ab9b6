"""Sign-out ends what the session held: its playground key is revoked."""

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from aiplatform import services
from aiplatform.models import ApiKey

from .playground import SESSION_KEY


@receiver(user_logged_out)
def revoke_playground_key(sender, request, user, **kwargs):
    held = request.session.get(SESSION_KEY) if request is not None else None
    if held and user is not None:
        api_key = ApiKey.objects.filter(pk=held["id"], user=user).first()
        if api_key is not None:
            services.revoke_api_key(api_key=api_key)
