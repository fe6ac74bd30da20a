/*
 * pvpanic-hook: libvirt qemu hook and define-time <panic> patcher.
 *
 * One binary, two modes, told apart by argv[0] only (hook_mode_for_argv0):
 * installed as .../hooks/qemu or .../hooks/qemu.d/50-pvpanic it is the
 * hook and treats its four arguments as data; run as "pvpanic-hook" it is
 * the command line. No domain name can switch modes.
 */
#include <config.h>

#include <fcntl.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "cli.h"
#include "hookmode.h"
#include "hookops.h"

/*
 * Make sure fds 0-2 are open, so a file we open later can never become
 * "stdout". Returns a bit per fd that was closed.
 */
static int
ensure_std_fds(void)
{
    int closed = 0;

    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0) {
            int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);

            closed |= 1 << fd;
            if (nfd >= 0 && nfd != fd) {
                dup2(nfd, fd);
                close(nfd);
            }
        }
    }
    return closed;
}

int
main(int argc, char **argv)
{
    int closed = ensure_std_fds();
    int status;

    if (argc < 1 || hook_mode_for_argv0(argv[0]))
        status = hook_main(argc > 0 ? argc - 1 : 0, argc > 0 ? argv + 1 : argv);
    else
        status = cli_main(argc, argv, closed & (1 << 1));
    xmlCleanupParser();
    return status;
}
