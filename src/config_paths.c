/* Secret files and state directories the config leaves implicit (config_paths.h). The unit
 * and an operator's shell must reach the same ones: a tool run by hand that finds other
 * secrets, or another instance's cursor, misleads exactly when something is being fixed. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bts/common.h"
#include "bts/config_paths.h"

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);

    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Sets *ret to dir/name when that exists: 1 found, 0 not there, BTS_ENOMEM. */
static int secret_try(const char *dir, const char *name, char **ret)
{
    char *p;

    if (!dir || !*dir)
        return 0;
    if (!(p = path_join(dir, name)))
        return BTS_ENOMEM;
    if (access(p, F_OK) == 0) {
        *ret = p;
        return 1;
    }
    free(p);
    return 0;
}

int bts_config_secret_find(const char *name, const char *config_dir, char **ret,
                           char *where, size_t wherelen)
{
    const char *creds = getenv("CREDENTIALS_DIRECTORY");
    const char *dirs[] = {creds, config_dir, BTS_INSTANCE_DIR};
    int r;

    if (strchr(name, '/')) {
        *ret = name[0] == '/' ? strdup(name) : path_join(config_dir, name);
        return *ret ? 0 : BTS_ENOMEM;
    }
    for (size_t i = 0; i < BTS_ARRAY_SIZE(dirs); i++)
        if ((r = secret_try(dirs[i], name, ret)) != 0)
            return r < 0 ? r : 0;
    snprintf(where, wherelen, "%s%s%s, %s/, %s/",
             creds && *creds ? "$CREDENTIALS_DIRECTORY=" : "",
             creds && *creds ? creds : "no $CREDENTIALS_DIRECTORY (outside the unit)",
             creds && *creds ? "/" : "", config_dir, BTS_INSTANCE_DIR);
    return BTS_EINVAL;
}

int bts_config_instance_state_dir(const char *config_dir, const char *config_path,
                                  char **ret)
{
    char *copy = strdup(config_path), *base, *dot;
    int r = 0;

    if (!copy)
        return BTS_ENOMEM;
    base = basename(copy);
    dot = strrchr(base, '.');
    if (strcmp(config_dir, BTS_INSTANCE_DIR) != 0 || !dot || dot == base ||
        strcmp(dot, ".conf") != 0)
        goto out;
    *dot = '\0';
    r = (*ret = path_join(BTS_STATE_ROOT, base)) ? 1 : BTS_ENOMEM;
out:
    free(copy);
    return r;
}
