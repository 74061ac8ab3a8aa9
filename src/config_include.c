/* @include targets checked before libconfig reads them (config_include.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bts/common.h"
#include "bts/config_include.h"

#define INCLUDE_MAX_DEPTH 10 /* libconfig's own limit */

typedef struct {
    const char *dir;
    char *err;
    size_t errlen;
} includes;

static int check_file(includes *in, const char *path, int depth);

/* Opens without blocking (a FIFO would hang the scan) and refuses what is not a regular
 * file: 1 when the file can be scanned, 0 when it does not exist, BTS_ECONFIG. */
static int include_target(includes *in, const char *file, unsigned line, const char *name,
                          const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(in->err, in->errlen, "%s:%u: @include \"%s\": %s", file, line, name,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return BTS_ECONFIG;
    }
    close(fd);
    if (S_ISREG(st.st_mode))
        return 1;
    snprintf(in->err, in->errlen, "%s:%u: @include \"%s\": %s is not a regular file", file,
             line, name, path);
    return BTS_ECONFIG;
}

/* The @include on this line, if any: its name checked, and its file scanned in turn. */
static int check_line(includes *in, const char *file, unsigned no, char *line, int depth)
{
    char *at = strstr(line, "@include"), *name, *end, path[4096];
    int r;

    if (!at)
        return 0;
    name = at + strlen("@include");
    name += strspn(name, " \t");
    if (*name != '"' || !(end = strchr(++name, '"')))
        return 0;
    *end = '\0';
    if (name[0] == '/')
        snprintf(path, sizeof(path), "%s", name);
    else
        snprintf(path, sizeof(path), "%s/%s", in->dir, name);
    if ((r = include_target(in, file, no, name, path)) <= 0)
        return r;
    return depth < INCLUDE_MAX_DEPTH ? check_file(in, path, depth + 1) : 0;
}

static int check_file(includes *in, const char *path, int depth)
{
    char *line = NULL;
    size_t cap = 0;
    unsigned no = 0;
    ssize_t n;
    int r = 0;
    FILE *f = fopen(path, "re");

    if (!f)
        return 0; /* libconfig says why it cannot be read */
    while (r == 0 && (n = getline(&line, &cap, f)) > 0) {
        no++;
        if (strlen(line) != (size_t)n) {
            snprintf(in->err, in->errlen, "%s:%u: a NUL byte: not a text file", path, no);
            r = BTS_ECONFIG;
        } else {
            r = check_line(in, path, no, line, depth);
        }
    }
    free(line);
    fclose(f);
    return r;
}

int bts_config_check_includes(const char *path, const char *include_dir, char *err,
                              size_t errlen)
{
    char scratch[1];
    includes in = {.dir = include_dir, .err = err && errlen ? err : scratch,
                   .errlen = err && errlen ? errlen : sizeof(scratch)};

    return check_file(&in, path, 0);
}
