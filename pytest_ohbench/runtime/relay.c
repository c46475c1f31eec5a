/*
 * ohbench-relay: the in-container end of a sealed network (see runtime/sealed.py).
 *
 *     ohbench-relay PORT SOCKET -- COMMAND [ARG...]
 *
 * Listens on 127.0.0.1:PORT, forwards every connection to the unix socket SOCKET (the run's
 * LLM gateway, bind-mounted from the host), and runs COMMAND in its own place: the relay is
 * the container's main command, so it listens before anything else in the container runs.
 * The port is bound before COMMAND starts, so no client can come too early; the server
 * itself is a grandchild, adopted by the container's init, that never touches the main
 * process's stdin or stdout (the harness's command channel). One forked process per
 * connection, each copying both ways until both sides are done.
 *
 * Built static (gcc -static) so it runs in any image: no libc, no Python, no tools needed.
 * Numeric addresses only: nothing of glibc's NSS is linked in.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_un target;

static void die(const char *what) {
    fprintf(stderr, "ohbench-relay: %s: %s\n", what, strerror(errno));
    exit(125);
}

/* Write all of buf; 0 on success. */
static int write_all(int fd, const char *buf, ssize_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, (size_t)len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= n;
    }
    return 0;
}

/* Copy both ways between a and b until both directions ended (or one failed). */
static void pump(int a, int b) {
    static char buf[65536];
    struct pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    int open_ways = 2;
    while (open_ways > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            int from = fds[i].fd, to = i == 0 ? b : a;
            ssize_t n = read(from, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                if (n < 0) return; /* reset: the other side sees its connection closed */
                /* End of one direction: pass the half-close on, keep the other direction. */
                shutdown(to, SHUT_WR);
                fds[i].fd = -1;
                open_ways--;
                continue;
            }
            if (write_all(to, buf, n) < 0) return;
        }
    }
}

static void serve_one(int client) {
    int upstream = socket(AF_UNIX, SOCK_STREAM, 0);
    if (upstream < 0 || connect(upstream, (struct sockaddr *)&target, sizeof target) < 0) _exit(1);
    pump(client, upstream);
    _exit(0);
}

static void serve(int listener) {
    /* The server never reads the main process's stdin nor writes into its output. */
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2) close(null);
    }
    signal(SIGCHLD, SIG_IGN); /* connection processes are reaped by the kernel */
    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                if (errno != EINTR && errno != ECONNABORTED) usleep(10000);
                continue;
            }
            _exit(1);
        }
        /* Answers come in several writes (headers, then body, then stream events): no Nagle delay. */
        int one = 1;
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pid_t pid = fork();
        if (pid == 0) {
            close(listener);
            serve_one(client);
        }
        close(client);
    }
}

int main(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[3], "--") != 0) {
        fprintf(stderr, "usage: ohbench-relay PORT SOCKET -- COMMAND [ARG...]\n");
        return 125;
    }
    char *end;
    long port = strtol(argv[1], &end, 10);
    if (*end || port < 1 || port > 65535) {
        fprintf(stderr, "ohbench-relay: bad port %s\n", argv[1]);
        return 125;
    }
    if (strlen(argv[2]) >= sizeof target.sun_path) {
        fprintf(stderr, "ohbench-relay: socket path too long: %s\n", argv[2]);
        return 125;
    }
    target.sun_family = AF_UNIX;
    strcpy(target.sun_path, argv[2]);
    signal(SIGPIPE, SIG_IGN); /* a peer gone mid-write is an error return, not a death */

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) die("socket");
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short)port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0) die("bind 127.0.0.1");
    if (listen(listener, 128) < 0) die("listen");

    /* Double fork: the server is adopted by the container's init, never a child of COMMAND. */
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        if (fork() == 0) {
            setsid();
            serve(listener);
        }
        _exit(0);
    }
    waitpid(child, NULL, 0);
    close(listener);
    signal(SIGPIPE, SIG_DFL); /* COMMAND starts with the usual dispositions */
    execvp(argv[4], argv + 4);
    die(argv[4]);
    return 125;
}
