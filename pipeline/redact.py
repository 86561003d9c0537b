"""Secrets kept out of every line and file a command writes: the metadata store's password
(however it was given: in the --metadata URL, BIT_TFX_METADATA_PASSWORD or the file named by
BIT_TFX_METADATA_PASSWORD_FILE) and any credential written in a URL (scheme://user:SECRET@).

configs.parse_mysql_url registers the password it finds (`secret`); the console's handlers,
the log file's included, carry `Filter`, which rewrites a record holding one before it is
written; `scrub_file` rewrites what native code and subprocesses wrote straight into the log
file (they bypass Python's logging). Log files are created private (0600: cli/console.py)."""
import logging
import os
import re
from urllib.parse import quote

MASK = "***"
_SECRETS = set()
# scheme://user:SECRET@ (not the placeholder our messages spell: mysql://user:PASSWORD@...).
_URL_CREDENTIAL = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s'\"]+:)(?!PASSWORD@)[^@/\s'\"]+@",
                             re.IGNORECASE)


def secret(value):
    """Register `value` (and its URL-quoted form) as a secret for the rest of the process."""
    if value:
        _SECRETS.update({value, quote(value, safe="")})


def redact(text):
    """`text` with every registered secret and URL credential replaced by MASK."""
    for value in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(value, MASK)
    return _URL_CREDENTIAL.sub(r"\1" + MASK + "@", text)


class Filter(logging.Filter):
    """Rewrites a record whose message or traceback holds a secret (never drops one)."""

    def filter(self, record):
        message = record.getMessage()
        shown = redact(message)
        if shown != message:
            record.msg, record.args = shown, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def scrub_file(path):
    """Rewrites the file at `path` without the secrets (a no-op when it holds none)."""
    if not (_SECRETS and os.path.isfile(path)):
        return
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    shown = redact(text)
    if shown != text:
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(shown)
