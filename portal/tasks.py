from celery import shared_task
from django.core.mail import EmailMessage


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def email_send(
    *,
    subject: str,
    body: str,
    to: list[str],
    from_email: str,
    reply_to: list[str],
    attachments: list[dict] | None = None,
) -> None:
    """Send one message. Attachments travel by name, never as bytes through the broker: each is
    ``{"storage": "private" | "default", "name": <storage name>, "filename", "mimetype"}`` and
    is read from its storage here (a file not there yet is an OSError: retried)."""
    from portal.storage import storage_for

    message = EmailMessage(
        subject=subject, body=body, from_email=from_email, to=to, reply_to=reply_to
    )
    for item in attachments or ():
        with storage_for(item.get("storage", "private")).open(item["name"], "rb") as handle:
            content = handle.read()
        message.attach(
            item.get("filename") or item["name"].rsplit("/", 1)[-1],
            content,
            item.get("mimetype") or "application/octet-stream",
        )
    message.send()
