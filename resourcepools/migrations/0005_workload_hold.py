from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("resourcepools", "0004_pool_names_per_account"),
    ]

    operations = [
        migrations.AddField(
            model_name="workload",
            name="holding_since",
            field=models.DateTimeField(blank=True, null=True,
                                       help_text="Since when it holds its flavors' nodes, blocked for capacity."),
        ),
        migrations.AddField(
            model_name="workload",
            name="hold_paused_until",
            field=models.DateTimeField(blank=True, null=True,
                                       help_text="It held for the longest allowed; it holds again after this."),
        ),
    ]
