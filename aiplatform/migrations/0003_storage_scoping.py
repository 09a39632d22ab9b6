import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('aiplatform', '0002_account_plan'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='StorageConnection',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=100)),
                ('scheme', models.CharField(choices=[('s3', 'S3'), ('obs', 'OBS')], default='s3', max_length=10)),
                ('bucket', models.CharField(max_length=63)),
                ('prefix', models.CharField(blank=True, default='', help_text='Only keys under this prefix; empty: the whole bucket.', max_length=900)),
                ('endpoint_url', models.CharField(blank=True, default='', help_text="Empty: the platform's storage endpoint.", max_length=300)),
                ('region', models.CharField(blank=True, default='', max_length=64)),
                ('path_style', models.BooleanField(default=False)),
                ('access_key_id', models.CharField(blank=True, default='', max_length=128)),
                ('secret_access_key_encrypted', models.TextField(blank=True, default='')),
                ('role_arn', models.CharField(blank=True, default='', help_text='A role the platform assumes for the account (short-lived credentials).', max_length=300)),
                ('external_id', models.CharField(blank=True, default='', help_text="Sent with AssumeRole; put it in the role's trust policy.", max_length=64)),
                ('read_only', models.BooleanField(default=False)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='storage_connections', to='aiplatform.account')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['name'],
                'constraints': [
                    models.UniqueConstraint(fields=('account', 'name'), name='storage_connection_name_unique'),
                    models.UniqueConstraint(fields=('account', 'scheme', 'bucket', 'prefix'), name='storage_connection_location_unique'),
                ],
            },
        ),
        migrations.CreateModel(
            name='StorageGrant',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uri', models.CharField(help_text="A location: an object, or a prefix ending in '/'.", max_length=1024)),
                ('read_only', models.BooleanField(default=True)),
                ('note', models.CharField(blank=True, default='', max_length=300)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='storage_grants', to='aiplatform.workspace')),
            ],
            options={
                'ordering': ['uri'],
                'constraints': [models.UniqueConstraint(fields=('workspace', 'uri'), name='storage_grant_unique')],
            },
        ),
    ]
