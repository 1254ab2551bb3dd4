"""Demo data files (see ``volview.resources``) and the script that made the tractogram."""
