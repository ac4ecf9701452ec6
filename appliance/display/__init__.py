"""The screens: staff till, customer display and loyalty kiosk (Kivy, in the service's loop).

Importing this package does not import Kivy: the pure parts (money text, device lights,
what each screen shows) are usable and testable without a display, and a unit without
one keeps selling headless. `appliance.display.app` is where Kivy comes in.
"""

from appliance.errors import ApplianceError


class DisplayError(ApplianceError):
    """The screen could not be started or has failed; the till keeps selling headless."""


__all__ = ["DisplayError"]
