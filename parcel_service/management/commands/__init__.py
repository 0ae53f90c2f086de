"""``manage.py`` commands: demo accounts, seeding, housekeeping."""
