/* The files a config @includes, checked before libconfig reads them. */
#ifndef BTS_CONFIG_INCLUDE_H
#define BTS_CONFIG_INCLUDE_H

#include <stddef.h>

/* libconfig 1.5's scanner calls exit() when it cannot read what it was given (a directory,
 * say, as in `@include "."`), which would end the daemon on a reload. Scans path's text for
 * @include "NAME" (NAME relative to include_dir), and the text of each included file in
 * turn, refusing a NUL byte or a NAME that exists but is not a regular file. A missing file
 * is left to libconfig, which reports it. Returns 0, or BTS_ECONFIG with
 * "FILE:LINE: @include \"NAME\": why" in err. */
int bts_config_check_includes(const char *path, const char *include_dir, char *err,
                              size_t errlen);

#endif
