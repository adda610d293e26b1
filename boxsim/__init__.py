"""A Box simulator: Box's API for users, groups and admin events, and Box's sign-up, admin
console and billing pages, served from one process with its state in a SQLite file.

Run it with `python -m boxsim`; start it from Python with `boxsim.testing.start_simulator`.
"""

__version__ = "0.1.0"
