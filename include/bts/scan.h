/* Finds where new BioTime transactions start: the first page (in the server's default
 * ascending-id order) holding an id above the cursor, by binary search over pages rather
 * than id arithmetic, which breaks on gaps and deletions. */
#ifndef BTS_SCAN_H
#define BTS_SCAN_H

#include "bts/biotime.h"

typedef struct {
    int64_t page_no;     /* the page found */
    bts_page page;       /* its rows (may hold none above the cursor: nothing new) */
    int64_t requests;    /* pages fetched to find it */
    bool ids_went_back;  /* the server's highest id is below the cursor */
    int64_t server_max_id;
} bts_scan_result;

/* hint: the page where the cursor was last seen (0 = unknown). */
int bts_scan_find(bts_biotime *b, int64_t cursor, int64_t hint, int64_t page_size,
                  bts_scan_result *ret);

void bts_scan_result_clear(bts_scan_result *r);

#endif
