"""Dates as people read them: "3 hours ago · 2 Dec 2026, 14:05", sidebar groups like
ChatGPT's (Today, Yesterday, Previous 7 days, Previous 30 days, then months). Local time of
the machine serving the archive, which is the archive owner's own machine."""

from datetime import datetime, timedelta

from markupsafe import Markup


def local(epoch):
    try:
        return datetime.fromtimestamp(float(epoch))
    except (TypeError, ValueError, OverflowError, OSError):
        return None  # an absurd timestamp from a hostile capture is just not shown


def absolute(epoch):
    moment = local(epoch)
    if moment is None:
        return ""
    return f"{moment.day} {moment:%b %Y, %H:%M}"


def relative(epoch, now=None):
    moment = local(epoch)
    if moment is None:
        return ""
    seconds = ((now or datetime.now()) - moment).total_seconds()
    if seconds < 0:
        return "in the future"
    for size, unit in ((86400 * 365, "year"), (86400 * 30, "month"), (86400 * 7, "week"),
                       (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def group(epoch, now=None):
    """The sidebar heading a conversation last changed at `epoch` falls under."""
    moment = local(epoch)
    if moment is None:
        return "Undated"
    today = (now or datetime.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    if moment >= today:
        return "Today"
    if moment >= today - timedelta(days=1):
        return "Yesterday"
    if moment >= today - timedelta(days=7):
        return "Previous 7 days"
    if moment >= today - timedelta(days=30):
        return "Previous 30 days"
    return f"{moment:%B %Y}"


def time_tag(epoch, now=None):
    """<time> with the relative date shown and the absolute one as text beside it."""
    moment = local(epoch)
    if moment is None:
        return Markup("")
    # Every part is made here from a number (no text from a capture), so no escaping is needed;
    # Markup.format() was most of the list's rendering time.
    return Markup(f'<time datetime="{moment.isoformat(timespec="seconds")}" title="{absolute(epoch)}">'
                  f"{relative(epoch, now)}</time>")
