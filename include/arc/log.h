/* One JSON object per line on stderr. */
#ifndef ARC_LOG_H
#define ARC_LOG_H

#include <jansson.h>

/* Writes {"ts":..., "level":LEVEL, "msg":MSG, ...FIELDS} and takes FIELDS. */
void log_json(const char *level, const char *msg, json_t *fields_steal);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The access log line of one request: log_json's "request" line with
 * these members, in this order (key_id, aborted, idempotent_replayed only
 * when set), written without building a JSON value. */
struct log_request {
  const char *request_id, *method, *route, *key_id;
  unsigned status;
  long long duration_us;
  int aborted;
  int idempotent_replayed;
};
void log_request(const struct log_request *r);

/* Silences log_* (tests that expect errors). */
void log_set_quiet(int quiet);

#endif
