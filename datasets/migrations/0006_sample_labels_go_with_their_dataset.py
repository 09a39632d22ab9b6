"""Sample labels go with their dataset: deleting a dataset, or the workspace that holds it, deletes
its label rows (one statement by dataset, through the ORM's cascade); before, they were left
behind. No database change: the rows still carry no database constraint (import speed)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('datasets', '0005_export_formats'),
    ]

    operations = [
        migrations.AlterField(
            model_name='samplelabel',
            name='dataset',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='datasets.dataset'),
        ),
    ]
