"""The point-of-sale appliance: one asyncio service driving drawer, scanner, printer and display."""

__version__ = "0.1.0"
