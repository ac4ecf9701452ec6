"""Receipts: the layout a journal record prints as (`layout`), and its renderers: ESC/POS
bytes for the printer (`escpos`) and a picture (`png`). Not a driver: the printer driver
only carries the bytes."""
