from celery import shared_task
from django.core.mail import EmailMessage


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def email_send(
    *, subject: str, body: str, to: list[str], from_email: str, reply_to: list[str]
) -> None:
    EmailMessage(subject=subject, body=body, from_email=from_email, to=to, reply_to=reply_to).send()
