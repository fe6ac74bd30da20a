/*
 * standalone: replay fuzz inputs without libFuzzer (any compiler), as part
 * of `make check`. Arguments are files or directories; without arguments
 * the seed corpus $abs_top_srcdir/tests/fuzz/corpus/FUZZ_CORPUS_NAME/ is
 * replayed. A crash, sanitizer report or abort() fails the test.
 */
#include <config.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileutil.h"

#define FUZZ_MAX_INPUT (4 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = read_file_capped(path, FUZZ_MAX_INPUT, &buf, &len);

    if (rc < 0) {
        fprintf(stderr, "cannot read '%s': %s\n", path, strerror(-rc));
        return -1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
    free(buf);
    return 0;
}

static int
replay(const char *path, unsigned int *count)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    int rc = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "cannot read '%s'\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return replay_file(path);
    }
    d = opendir(path);
    if (!d)
        return -1;
    while ((de = readdir(d))) {
        char *p;

        if (de->d_name[0] == '.')
            continue;
        if (asprintf(&p, "%s/%s", path, de->d_name) < 0)
            abort();
        if (replay(p, count) < 0)
            rc = -1;
        free(p);
    }
    closedir(d);
    return rc;
}

int
main(int argc, char **argv)
{
    unsigned int count = 0;
    int rc = 0;

    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            rc |= replay(argv[i], &count) < 0;
    } else {
        const char *top = getenv("abs_top_srcdir");
        char *dir;

        if (asprintf(&dir, "%s/tests/fuzz/corpus/%s", top ? top : ".", FUZZ_CORPUS_NAME) < 0)
            abort();
        rc = replay(dir, &count) < 0;
        free(dir);
    }
    printf("replayed %u input(s)\n", count);
    if (count == 0)
        return 1;
    return rc;
}
