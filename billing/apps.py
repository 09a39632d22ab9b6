from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        from resourcepools.admission import register_admission_check
        from resourcepools.services import workload_phase_changed

        from . import receivers, services

        register_admission_check(services.arrears_admission_check)
        workload_phase_changed.connect(receivers.meter_finished_work, dispatch_uid="billing.meter_finished_work")
