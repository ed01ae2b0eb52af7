/* The event feed (src/integrate/events*.c). */
#ifndef ARC_EVENTS_H
#define ARC_EVENTS_H

#include "arc/db.h"

/* 1 when S is a feed cursor "<txid>-<id>". */
int events_cursor_valid(const char *s);

#endif
