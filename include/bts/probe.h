/* --test-connection: checks both servers the way the daemon will use them and prints one
 * line per check ("ok", "warning" or "FAILED", with the fix), so an operator can set up a
 * site without reading logs. Read-only on both servers. */
#ifndef BTS_PROBE_H
#define BTS_PROBE_H

#include <stdio.h>
#include "bts/config.h"

/* BioTime: login, API licence, one transaction read, sort order and ordering. ERPNext: site
 * routing, API key, API user and its roles, the two doctypes and their fields, the employee
 * field (and how many employees carry it), geolocation tracking. Returns 0 when nothing
 * FAILED (warnings allowed), else BTS_EAUTH. */
int bts_test_connection(const bts_config *cfg, FILE *out);

#endif
