"""The staff till, one module per panel over a Kivy-free model.

`model.TillModel` holds the screen's state and makes its texts and operations (no Kivy:
importing this package or the model imports none). `screen.TillScreen` is the status
bar and the body the panels are built into; each panel module (`login`, `sell` with
`basket`, `number`, `tender`, `change`, `more`, `nosale`, `report`, `refund`,
`approve`) has a `build(till, view)` that draws it and hands touches back to the model.
`keypad`, `pages` and `people` are the pieces several panels share; panels reach the
screen only through `host.Host`, so the screen imports them without a cycle.
"""
