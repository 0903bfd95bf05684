"""Machine formats: JSON, Moodle XML, Canvas QTI (from the renderers' fragments: export sits above render)."""
