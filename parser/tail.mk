# parser/tail.c: the file follower (filled in by its own work)
