/* --status: the local state at a glance, for an operator or (with --json) a script. */
#ifndef BTS_STATUS_H
#define BTS_STATUS_H

#include <stdio.h>
#include "bts/common.h"

/* Prints the state in dir; returns 0, or a negative error (message on stderr). */
int bts_status_print(const char *dir, bool json, FILE *out);

#endif
