"""Pool names unique per owner (among public pools; per account among dedicated ones) instead of
globally, and a separate placement label that stays unique: existing pools keep their name as
their label, so nodes already labelled (and tainted) with it keep placing work."""

from django.db import migrations, models


def labels_from_names(apps, schema_editor):
    ResourcePool = apps.get_model("resourcepools", "ResourcePool")
    ResourcePool.objects.update(placement_label=models.F("name"))


class Migration(migrations.Migration):

    dependencies = [
        ("resourcepools", "0003_podset_autoscaling"),
    ]

    operations = [
        migrations.AddField(
            model_name="resourcepool",
            name="placement_label",
            field=models.CharField(max_length=63, null=True, editable=False),
        ),
        migrations.RunPython(labels_from_names, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="resourcepool",
            name="placement_label",
            field=models.CharField(
                editable=False, max_length=63, unique=True,
                help_text="The value of the node label (and dedicated taint) that places work: the name of a public "
                          "pool, the name and a unique suffix of a dedicated one; never changes.",
            ),
        ),
        migrations.AlterField(
            model_name="resourcepool",
            name="name",
            field=models.SlugField(max_length=63),
        ),
        migrations.AddConstraint(
            model_name="resourcepool",
            constraint=models.UniqueConstraint(condition=models.Q(kind="public"), fields=("name",),
                                               name="pool_public_name_unique",
                                               violation_error_message="A public pool with this name exists already."),
        ),
        migrations.AddConstraint(
            model_name="resourcepool",
            constraint=models.UniqueConstraint(condition=models.Q(kind="dedicated"), fields=("account", "name"),
                                               name="pool_dedicated_name_unique_per_account",
                                               violation_error_message="This account has a dedicated pool with this "
                                                                       "name already."),
        ),
    ]
