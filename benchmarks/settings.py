"""Benchmark settings: the test settings (eager tasks, captured e-mail, fast hashing), on
PostgreSQL when DATABASE_URL is set."""

from portal.settings.test import *  # noqa: F403
