from django.core.management.base import BaseCommand

from training import services
from training.models import Algorithm
from training.presets import PRESETS


class Command(BaseCommand):
    help = "Create or refresh the platform's preset algorithms (LLM SFT, LLM LoRA, CPU text classifier)."

    def handle(self, *args, **options):
        for preset in PRESETS:
            existing = Algorithm.objects.filter(workspace__isnull=True, name=preset["name"]).first()
            services.save_algorithm(workspace=None, algorithm=existing, **preset)
        self.stdout.write(f"  presets        {', '.join(p['name'] for p in PRESETS)}")
