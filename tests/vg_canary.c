/*
 * vg_canary: a program with one memory error on purpose (a branch on
 * uninitialised heap memory), for tests/sec_valgrind.sh: under make
 * check-valgrind it proves that a memcheck error fails a test, in the
 * foreground (exit status) and in a daemon killed with -9 (its stderr).
 * Never run outside that test; it does nothing harmful either way.
 */
#include <config.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The error is the point: keep the compiler from refusing it at -Werror. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

int
main(int argc, char **argv)
{
    volatile int *p = malloc(4 * sizeof(int));
    int uninit;

    if (!p)
        return 2;
    /* through an opaque copy, so no compiler warning: only memcheck sees it */
    memcpy(&uninit, (const void *)(p + argc % 2), sizeof(uninit));
    /* memcheck reports the branch on an uninitialised value here */
    if (uninit == 42)
        puts("42");
    else
        puts("not 42");
    fflush(stdout);
    free((void *)p);
    if (argc > 1 && strcmp(argv[1], "--hang") == 0) {
        /* like a daemon: wait to be killed */
        for (;;)
            pause();
    }
    return 0;
}
