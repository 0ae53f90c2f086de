"""Order each parcel's timeline by a sequence assigned under the row lock, not by occurred_at.

Existing events are numbered in their old timeline order (occurred_at, recorded_at, id); a parcel whose
version is below its event count is raised to it, so the next event (sequence = version after its bump)
always sorts last.
"""

from django.db import migrations, models

BACKFILL = {
    "postgresql": """
        UPDATE parcel_service_trackingevent AS e SET sequence = numbered.n
        FROM (
            SELECT id, row_number() OVER (PARTITION BY parcel_id ORDER BY occurred_at, recorded_at, id) AS n
            FROM parcel_service_trackingevent
        ) AS numbered
        WHERE e.id = numbered.id
    """,
    "sqlite": """
        UPDATE parcel_service_trackingevent SET sequence = (
            SELECT numbered.n FROM (
                SELECT id, row_number() OVER (PARTITION BY parcel_id ORDER BY occurred_at, recorded_at, id) AS n
                FROM parcel_service_trackingevent
            ) AS numbered
            WHERE numbered.id = parcel_service_trackingevent.id
        )
    """,
}
RAISE_VERSIONS = """
    UPDATE parcel_service_parcel SET version = (
        SELECT count(*) FROM parcel_service_trackingevent e WHERE e.parcel_id = parcel_service_parcel.id
    )
    WHERE version < (SELECT count(*) FROM parcel_service_trackingevent e WHERE e.parcel_id = parcel_service_parcel.id)
"""


def number_existing_events(apps, schema_editor):
    schema_editor.execute(BACKFILL[schema_editor.connection.vendor])
    schema_editor.execute(RAISE_VERSIONS)


class Migration(migrations.Migration):

    dependencies = [
        ("parcel_service", "0004_fewer_write_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="trackingevent",
            name="sequence",
            field=models.PositiveIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(number_existing_events, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="trackingevent",
            name="sequence",
            field=models.PositiveIntegerField(editable=False),
        ),
        migrations.AlterModelOptions(
            name="trackingevent",
            options={"ordering": ("parcel", "sequence")},
        ),
        migrations.RemoveIndex(
            model_name="trackingevent",
            name="event_timeline_idx",
        ),
        migrations.AddConstraint(
            model_name="trackingevent",
            constraint=models.UniqueConstraint(fields=("parcel", "sequence"), name="event_parcel_sequence_unique"),
        ),
    ]
