#!/usr/bin/env python
"""Django's command-line utility; defaults to the development settings."""

import os
import sys


def main() -> None:
    """Run a management command."""
    # The one place a default is written into the environment: Django itself reads this variable.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core_project.settings.dev")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
