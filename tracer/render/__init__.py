"""Everything that turns data into strings: printers, number formats, view models, Jinja environments, PDF. Renderers compute nothing."""
