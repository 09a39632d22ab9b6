"""System checks of the scheduling settings: a range that admits nothing, or a hold that never
ends, would fail quietly at the first workload."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def scheduling_settings(app_configs, **kwargs):
    errors = []
    low, top, cap = (settings.WORKLOAD_MIN_PRIORITY, settings.WORKLOAD_MAX_PRIORITY,
                     settings.WORKLOAD_OPERATOR_MAX_PRIORITY)
    if not low <= 0 <= top <= cap:
        errors.append(Error(
            f"Workload priorities are WORKLOAD_MIN_PRIORITY={low}, WORKLOAD_MAX_PRIORITY={top}, "
            f"WORKLOAD_OPERATOR_MAX_PRIORITY={cap}.",
            hint="Keep WORKLOAD_MIN_PRIORITY <= 0 <= WORKLOAD_MAX_PRIORITY <= WORKLOAD_OPERATOR_MAX_PRIORITY "
                 "(0 is the default priority of every workload).",
            id="resourcepools.E001",
        ))
    if settings.ADMISSION_MAX_HOLD_SECONDS <= 0 or settings.ADMISSION_HOLD_COOLDOWN_SECONDS < 0:
        errors.append(Error(
            f"ADMISSION_MAX_HOLD_SECONDS={settings.ADMISSION_MAX_HOLD_SECONDS}, "
            f"ADMISSION_HOLD_COOLDOWN_SECONDS={settings.ADMISSION_HOLD_COOLDOWN_SECONDS}.",
            hint="Give a positive ADMISSION_MAX_HOLD_SECONDS and a cooldown of 0 or more seconds.",
            id="resourcepools.E002",
        ))
    return errors
