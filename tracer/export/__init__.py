"""Machine formats: JSON, Moodle XML."""
