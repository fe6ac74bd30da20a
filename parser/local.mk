# parser/: filled in by its own work
