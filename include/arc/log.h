/* One JSON object per line on stderr. */
#ifndef ARC_LOG_H
#define ARC_LOG_H

#include <jansson.h>

/* Writes {"ts":..., "level":LEVEL, "msg":MSG, ...FIELDS} and takes FIELDS. */
void log_json(const char *level, const char *msg, json_t *fields_steal);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Silences log_* (tests that expect errors). */
void log_set_quiet(int quiet);

#endif
