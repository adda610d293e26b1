"""Development-only pages (mounted when DEBUG is on): the captured e-mail of the demo."""

from email import message_from_bytes, policy
from pathlib import Path

from django.conf import settings
from django.http import Http404
from django.shortcuts import render


def outbox(request):
    if not settings.DEBUG:  # pragma: no cover - the URL is not mounted then
        raise Http404
    folder = Path(settings.EMAIL_FILE_PATH)
    messages = []
    files = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    for file in files[:20]:
        for chunk in file.read_bytes().split(b"-" * 79):
            chunk = chunk.strip()
            if not chunk:
                continue
            msg = message_from_bytes(chunk, policy=policy.default)
            body = msg.get_body(preferencelist=("plain",))
            messages.append(
                {
                    "to": msg["To"],
                    "from": msg["From"],
                    "subject": msg["Subject"],
                    "date": msg["Date"],
                    "body": body.get_content() if body else "",
                }
            )
    return render(request, "portal/dev_outbox.html", {"mails": messages[:50]})
