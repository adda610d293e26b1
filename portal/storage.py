"""Private files: documents (invoice and credit note PDFs) that only a view checking who is
asking may hand out. They live under ``settings.PRIVATE_MEDIA_ROOT`` (default ``var/private``),
which is never inside ``MEDIA_ROOT`` and has no URL: ``url()`` refuses, so no template or
serializer can link to storage by mistake and no web server serves the folder."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible


@deconstructible(path="portal.storage.PrivateStorage")
class PrivateStorage(FileSystemStorage):
    def __init__(self, location: str | os.PathLike | None = None) -> None:
        super().__init__(location=location)

    # Read on every use (not cached), so a test that points the setting elsewhere is obeyed.
    @property
    def base_location(self) -> str:
        return str(self._location or settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self) -> str:
        location = os.path.abspath(self.base_location)
        media = os.path.abspath(settings.MEDIA_ROOT)
        if Path(location) == Path(media) or Path(media) in Path(location).parents:
            raise ImproperlyConfigured(
                "PRIVATE_MEDIA_ROOT must not be inside MEDIA_ROOT: files there are public."
            )
        return location

    @property
    def base_url(self) -> None:
        return None

    def url(self, name: str) -> str:
        raise ValueError("Private files have no URL; a view that checks access serves them.")


_private = PrivateStorage()


def private_storage() -> PrivateStorage:
    """The storage of private files (a callable, so migrations name it rather than copy it)."""
    return _private


def storage_for(alias: str):
    """Storage by the name e-mail attachments give: ``private`` or ``default``."""
    if alias == "private":
        return private_storage()
    if alias == "default":
        from django.core.files.storage import default_storage

        return default_storage
    raise ValueError(f"Unknown storage {alias!r}.")
