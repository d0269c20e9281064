/*
 * uring_randread: the floor for one event-loop thread doing random O_DIRECT reads through io_uring.
 *
 * It keeps DEPTH reads in flight on one ring and does nothing else: submit everything queued and wait for at least
 * one completion in a single io_uring_enter, consume every completion that is there, queue a new read for each,
 * repeat. Whatever `aio bench` spends beyond this per read is the managed loop's own cost.
 *
 *   -d DEPTH   reads in flight (default 32)
 *   -b BYTES   read size (default 4096)
 *   -t SECONDS run time (default 5)
 *   -r SECONDS ramp: run this long first, unmeasured (default 0; fio's ramp_time)
 *   -f MODE    ring flags: 0 none (fio 3.33, QEMU), 1 COOP_TASKRUN|TASKRUN_FLAG,
 *              2 SINGLE_ISSUER|DEFER_TASKRUN (Aio's default; the default here too)
 *   -F         register the file (IOSQE_FIXED_FILE)
 *   -B         register the buffers (READ_FIXED)
 *
 * Output, one line each: "iops N", "cpu_us_per_io X" (user+system time of the process, io-wq workers included),
 * "cpu_user_s U" and "cpu_sys_s S" (the same time, split, in seconds over the measured part).
 * Build: gcc -O2 -o uring_randread uring_randread.c -luring   (Debian: apt-get install liburing-dev)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct options {
    unsigned depth;
    unsigned block;
    unsigned seconds;
    unsigned ramp;
    int mode;
    int fixed_file;
    int fixed_buffers;
    const char *path;
};

/* splitmix64: a cheap, well-spread generator; the sequence only has to be the same from run to run. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The process's user and system time so far, in seconds. */
static void cpu_times(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static int parse(int argc, char **argv, struct options *o)
{
    int c;
    *o = (struct options){ .depth = 32, .block = 4096, .seconds = 5, .mode = 2 };
    while ((c = getopt(argc, argv, "d:b:t:r:f:FB")) != -1) {
        switch (c) {
        case 'd': o->depth = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'b': o->block = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't': o->seconds = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'r': o->ramp = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'f': o->mode = atoi(optarg); break;
        case 'F': o->fixed_file = 1; break;
        case 'B': o->fixed_buffers = 1; break;
        default: return -1;
        }
    }
    if (optind != argc - 1 || o->depth == 0 || o->depth > 4096 || o->block == 0 || o->block % 512 != 0
        || o->mode < 0 || o->mode > 2) {
        return -1;
    }
    o->path = argv[optind];
    return 0;
}

static void queue_read(struct io_uring *ring, const struct options *o, void *buffer, unsigned slot, int target,
                       uint64_t blocks, uint64_t *rng)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);   /* never NULL: at most DEPTH entries are queued */
    uint64_t offset = (next_random(rng) % blocks) * o->block;
    if (o->fixed_buffers) {
        io_uring_prep_read_fixed(sqe, target, buffer, o->block, offset, (int)slot);
    } else {
        io_uring_prep_read(sqe, target, buffer, o->block, offset);
    }
    if (o->fixed_file) {
        sqe->flags |= IOSQE_FIXED_FILE;
    }
    io_uring_sqe_set_data64(sqe, slot);
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: %s [-d depth] [-b bytes] [-t seconds] [-r seconds] [-f 0|1|2] [-F] [-B] FILE\n", argv[0]);
        return 2;
    }

    int fd = open(o.path, O_RDONLY | O_DIRECT);
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", o.path, strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)o.block) {
        fprintf(stderr, "%s: smaller than one read\n", o.path);
        return 1;
    }
    uint64_t blocks = (uint64_t)st.st_size / o.block;

    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    if (o.mode == 1) {
        params.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    } else if (o.mode == 2) {
        params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    }
    struct io_uring ring;
    int rc = io_uring_queue_init_params(o.depth, &ring, &params);
    if (rc < 0) {
        fprintf(stderr, "io_uring_queue_init_params: %s\n", strerror(-rc));
        return 1;
    }

    struct iovec *buffers = calloc(o.depth, sizeof *buffers);
    for (unsigned i = 0; i < o.depth; i++) {
        if (posix_memalign(&buffers[i].iov_base, 4096, o.block) != 0) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        buffers[i].iov_len = o.block;
    }
    if (o.fixed_buffers && (rc = io_uring_register_buffers(&ring, buffers, o.depth)) < 0) {
        fprintf(stderr, "io_uring_register_buffers: %s\n", strerror(-rc));
        return 1;
    }
    if (o.fixed_file && (rc = io_uring_register_files(&ring, &fd, 1)) < 0) {
        fprintf(stderr, "io_uring_register_files: %s\n", strerror(-rc));
        return 1;
    }
    int target = o.fixed_file ? 0 : fd;

    uint64_t rng = 0x5eed;
    for (unsigned i = 0; i < o.depth; i++) {
        queue_read(&ring, &o, buffers[i].iov_base, i, target, blocks, &rng);
    }

    uint64_t completed = 0;
    double user0, sys0;
    cpu_times(&user0, &sys0);
    double start = monotonic_seconds();
    double ramp_end = start + o.ramp;
    double deadline = ramp_end + o.seconds;
    double now = start;
    int measuring = o.ramp == 0;
    while (now < deadline) {
        rc = io_uring_submit_and_wait(&ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            fprintf(stderr, "io_uring_submit_and_wait: %s\n", strerror(-rc));
            return 1;
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            if (cqe->res != (int)o.block) {
                fprintf(stderr, "read: %s\n", cqe->res < 0 ? strerror(-cqe->res) : "short read");
                return 1;
            }
            unsigned slot = (unsigned)cqe->user_data;
            queue_read(&ring, &o, buffers[slot].iov_base, slot, target, blocks, &rng);
            seen++;
        }
        io_uring_cq_advance(&ring, seen);
        completed += seen;
        now = monotonic_seconds();
        if (!measuring && now >= ramp_end) {
            /* The ramp is over: count from here, as the managed loop does after its JIT has warmed up. */
            measuring = 1;
            completed = 0;
            cpu_times(&user0, &sys0);
            start = now;
        }
    }
    double elapsed = now - start;
    double user1, sys1;
    cpu_times(&user1, &sys1);
    double cpu = (user1 - user0) + (sys1 - sys0);
    printf("iops %.0f\n", (double)completed / elapsed);
    printf("cpu_us_per_io %.3f\n", completed ? cpu * 1e6 / (double)completed : 0.0);
    printf("cpu_user_s %.6f\n", user1 - user0);
    printf("cpu_sys_s %.6f\n", sys1 - sys0);
    return 0;
}
