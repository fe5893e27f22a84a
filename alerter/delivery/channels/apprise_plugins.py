"""The one Apprise plugin a URL needs, imported alone instead of all ~190 of them.

Apprise's own lookup (`Apprise.instantiate`) imports every plugin module first: about 27 MB of
RSS and 0.3 s for the alerter, which then uses two or three. Plugins declare their schemas as
class attributes (`protocol = "json"`, `secure_protocol = ("mailto", ...)`), so the module to
import is found by reading the plugin sources; the class found is then checked on the imported
module itself. When nothing matches, callers fall back to Apprise's full lookup.
"""

from __future__ import annotations

import functools
import importlib
import re
import warnings
from pathlib import Path
from typing import Any


@functools.cache
def plugin_for(schema: str) -> Any | None:
    """The NotifyBase subclass serving `schema` (lower case), or None when not found."""
    with warnings.catch_warnings():
        # A plugin may import `imghdr` (deprecated since 3.11).
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise.plugins  # noqa: PLC0415
        from apprise.plugins.base import NotifyBase  # noqa: PLC0415

        root = Path(apprise.plugins.__file__).parent
        declares = re.compile(
            rf"""^\s+(?:secure_)?protocol\s*=[^\n]*["']{re.escape(schema)}["']""", re.MULTILINE
        )
        for source in sorted(root.rglob("*.py")):
            if declares.search(source.read_text(encoding="utf-8", errors="replace")):
                found = _serving(_module_of(root, source), schema, NotifyBase)
                if found is not None:
                    return found
    return None


def _module_of(root: Path, source: Path) -> Any:
    parts = source.relative_to(root.parent.parent).with_suffix("").parts
    return importlib.import_module(".".join(parts).removesuffix(".__init__"))


def _serving(module: Any, schema: str, base: type) -> Any | None:
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, base) and schema in _schemas(value):
            return value
    return None


def _schemas(plugin: type) -> set[str]:
    found: set[str] = set()
    for attribute in ("protocol", "secure_protocol"):
        value = getattr(plugin, attribute, None)
        found.update([value] if isinstance(value, str) else (value or ()))
    return {s.lower() for s in found if isinstance(s, str)}
