"""A coarse label for a device: its browser family and operating system.

The session list shows users which device each session is on. Only the
family names are kept, from a fixed list, never versions or any other part
of the ``User-Agent`` header, so the label says little more than a person
would ("Firefox on Linux") and nothing a client chose to write into it.
"""

# Checked in order: browsers built on Chromium say "Chrome" too, and
# Chromium and Safari both say "Safari", so the narrower names come first.
BROWSERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Edge", ("Edg/", "EdgA/", "EdgiOS/", "Edge/")),
    ("Opera", ("OPR/", "OPiOS/", "Opera")),
    ("Samsung Internet", ("SamsungBrowser/",)),
    ("Firefox", ("Firefox/", "FxiOS/")),
    ("Chrome", ("Chrome/", "CriOS/", "Chromium/")),
    ("Safari", ("Safari/",)),
)
SYSTEMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("iOS", ("iPhone", "iPad", "iPod")),
    ("Android", ("Android",)),
    ("Windows", ("Windows",)),
    ("ChromeOS", ("CrOS",)),
    ("macOS", ("Macintosh", "Mac OS X")),
    ("Linux", ("Linux", "X11")),
)
# What ``Sec-CH-UA-Platform`` may say, and the name shown for it.
PLATFORM_HINTS = {
    '"android"': "Android",
    '"chrome os"': "ChromeOS",
    '"chromium os"': "ChromeOS",
    '"ios"': "iOS",
    '"linux"': "Linux",
    '"macos"': "macOS",
    '"windows"': "Windows",
}
UNKNOWN_BROWSER = "Unknown browser"
UNKNOWN_SYSTEM = "unknown system"
MAX_INSPECTED = 512


def _first_match(text: str, families: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    for name, markers in families:
        if any(marker in text for marker in markers):
            return name
    return ""


def device_label(user_agent: str, platform_hint: str = "") -> str:
    """``"<browser> on <system>"`` from a ``User-Agent`` and platform hint."""
    text = user_agent[:MAX_INSPECTED]
    browser = _first_match(text, BROWSERS) or UNKNOWN_BROWSER
    system = PLATFORM_HINTS.get(platform_hint.strip().lower()[:40], "")
    system = system or _first_match(text, SYSTEMS) or UNKNOWN_SYSTEM
    return f"{browser} on {system}"


def is_device_label(value: str) -> bool:
    """Tell whether ``value`` is a label :func:`device_label` makes."""
    browsers = {name for name, _ in BROWSERS} | {UNKNOWN_BROWSER}
    systems = {name for name, _ in SYSTEMS} | {UNKNOWN_SYSTEM}
    browser, separator, system = value.partition(" on ")
    return bool(separator) and browser in browsers and system in systems
