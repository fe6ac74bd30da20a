# hooks/: filled in by its own work
