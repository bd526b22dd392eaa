"""`keyturn mail` on a SQLite data dir with the files transport.

The error cases run a real process (the one-line error handling lives in its entry point);
the happy path runs in-process, which is several times faster.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from keyturn.cloud import db, sessions
from keyturn.cloud.mail.service import enqueue_mail

MASTER_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()


def keyturn(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A real `keyturn` process on this data dir, with no KEYTURN_* from the outside."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KEYTURN_")}
    full_env.update({"KEYTURN_DATA_DIR": str(data_dir), "KEYTURN_MASTER_KEY": MASTER_KEY, **env})
    return subprocess.run(
        [sys.executable, "-m", "keyturn", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def queue(data_dir: Path, address: str, subject: str, body: str) -> str:
    engine = db.make_engine(f"sqlite:///{data_dir / 'keyturn.db'}")
    try:
        with sessions.session_factory(engine)() as session:
            message = enqueue_mail(session, address, subject, body)
            session.commit()
    finally:
        engine.dispose()
    return message.id


def test_mail_commands_before_the_schema_exists_say_what_to_do(tmp_path: Path) -> None:
    assert "keyturn db upgrade" in one_line_error(keyturn(tmp_path, "mail", "list"))


def test_list_send_pending_and_show(data_dir: Path, run: Callable[..., str]) -> None:
    assert "the outbox is empty" in run("mail", "list")
    message_id = queue(data_dir, "alice@example.org", "Your doorcode", "Code: 4817263\n")

    before = run("mail", "list")
    sent = run("mail", "send-pending")
    after = run("mail", "list", "--state", "sent")
    shown = run("mail", "show", message_id[:8])

    for needle in (message_id[:8], "alice@example.org", "Your doorcode", "pending"):
        assert needle in before
    assert "sent 1, will retry 0, failed 0, suppressed 0" in sent
    eml = data_dir / "mail" / f"{message_id}.eml"
    assert eml.is_file()
    assert "sent" in after
    assert "alice@example.org" in after
    for needle in (message_id, "Your doorcode", "Code: 4817263", str(eml)):
        assert needle in shown
    assert run("mail", "list", "--state", "failed").strip() == "the outbox is empty"


def test_show_an_unknown_id_is_one_line(data_dir: Path) -> None:
    assert "no message with an id starting 'zzzzzz'" in one_line_error(
        keyturn(data_dir, "mail", "show", "zzzzzz")
    )


def test_smtp_without_a_host_is_one_line(data_dir: Path) -> None:
    result = keyturn(data_dir, "mail", "send-pending", KEYTURN_MAIL_TRANSPORT="smtp")
    assert "KEYTURN_SMTP_HOST" in one_line_error(result)
