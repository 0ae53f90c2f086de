"""Create the ``carriers`` group: its members see every parcel and record tracking events."""

from django.db import migrations


def create_carriers_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="carriers")


def remove_carriers_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="carriers").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("parcel_service", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_carriers_group, remove_carriers_group)]
