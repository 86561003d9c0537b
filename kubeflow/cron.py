"""The two cron dialects of scheduled retraining, as pure functions (no TensorFlow, no clients).

    Vertex AI   unix cron, 5 fields: minute hour day-of-month month day-of-week (0-7, 0 and 7
                are Sunday), optionally prefixed by TZ=ZONE or CRON_TZ=ZONE (an IANA time zone).
    KFP         robfig/cron with a leading seconds field, 6 fields: second minute hour
                day-of-month month day-of-week (0-6); "?" allowed in the two day fields; no
                time-zone prefix (the cluster's cronScheduleTimezone applies).

Every field takes numbers, *, ranges a-b, steps */n or a-b/n and lists a,b; month and day of
week also take names (JAN, MON). check_vertex and check_kfp raise ConfigError naming the
config field (`cron` unless told) and the cron field that is wrong.
"""
import re
import zoneinfo

from ..core.errors import ConfigError

# A Vertex cron may start with the time zone it is meant in.
_TIME_ZONE_PREFIX_RE = re.compile(r"^(CRON_)?TZ=")
_MONTHS = {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}

# (name, lowest, highest, names) of each field, in order.
_VERTEX_FIELDS = [("minute", 0, 59, None), ("hour", 0, 23, None), ("day of month", 1, 31, None),
                  ("month", 1, 12, _MONTHS), ("day of week", 0, 7, _DAYS)]
_KFP_FIELDS = [("second", 0, 59, None), ("minute", 0, 59, None), ("hour", 0, 23, None),
               ("day of month", 1, 31, None), ("month", 1, 12, _MONTHS), ("day of week", 0, 6, _DAYS)]


def check_vertex(expression, field="cron"):
    """Raises ConfigError unless `expression` is a Vertex AI cron (5 fields, optional TZ=)."""
    text = expression.strip()
    if has_time_zone_prefix(text):
        prefix, _, text = text.partition(" ")
        zone = prefix.split("=", 1)[1]
        if not is_time_zone(zone):
            raise ConfigError(f"{field} {expression!r}: {zone} is not an IANA time zone such as Europe/Berlin")
    _check_fields(expression, text, field, "vertex", _VERTEX_FIELDS, "0 3 * * 1 (03:00 every Monday)")


def check_kfp(expression, field="cron"):
    """Raises ConfigError unless `expression` is a KFP cron (6 fields, seconds first)."""
    if has_time_zone_prefix(expression):
        raise ConfigError(f"{field} {expression!r}: a KFP cron has no time-zone prefix")
    _check_fields(expression, expression, field, "kfp", _KFP_FIELDS, "0 0 3 * * 1 (03:00:00 every Monday)",
                  question_in_days=True)


def has_time_zone_prefix(expression):
    """Whether the cron starts with TZ= or CRON_TZ=."""
    return bool(_TIME_ZONE_PREFIX_RE.match(expression.strip()))


def with_time_zone(expression, zone):
    """The Vertex cron for `expression` meant in `zone` (None: as it is)."""
    return f"TZ={zone} {expression}" if zone else expression


def is_time_zone(name):
    """Whether `name` is an IANA time zone this Python knows (Europe/Berlin, UTC)."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _check_fields(expression, text, field, dialect, fields, example, question_in_days=False):
    """`text` (the cron without a time-zone prefix) against the dialect's fields."""
    parts = text.split()
    if len(parts) != len(fields):
        raise ConfigError(f"{field} {expression!r} has {len(parts)} field(s); a {dialect} cron has "
                          f"{len(fields)} ({', '.join(f[0] for f in fields)}), e.g. {example}")
    for part, (name, low, high, names) in zip(parts, fields):
        allow_question = question_in_days and name.startswith("day")
        for item in part.split(","):
            if not _item_ok(item, low, high, names, allow_question):
                raise ConfigError(f"{field} {expression!r}: {name} field {part!r} is not valid "
                                  f"(numbers {low}-{high}, *, ranges a-b, steps */n, lists a,b)")


def _item_ok(item, low, high, names, allow_question):
    if item == "?" and allow_question:
        return True
    base, slash, step = item.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        return False
    if base == "*":
        return True

    def value(text):
        if names and text.upper() in names:
            return names[text.upper()]
        return int(text) if text.isdigit() else None

    first, dash, last = base.partition("-")
    a = value(first)
    b = value(last) if dash else a
    return a is not None and b is not None and low <= a <= b <= high
