/* JSON-lines logging to stderr; one write per line so threads don't interleave. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arc/json_text.h"
#include "arc/log.h"

static atomic_int quiet;

void log_set_quiet(int q) { atomic_store(&quiet, q); }

/* Now as RFC 3339 UTC with milliseconds into WHEN.  The date and time to
 * the second are formatted once a second per thread: every request logs. */
static void now_text(char when[32])
{
  static _Thread_local time_t sec = -1;
  static _Thread_local char upto_sec[24];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec != sec) {
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(upto_sec, sizeof upto_sec, "%Y-%m-%dT%H:%M:%S", &tm);
    sec = ts.tv_sec;
  }
  snprintf(when, 32, "%.19s.%03dZ", upto_sec, (int)(ts.tv_nsec / 1000000));
}

void log_json(const char *level, const char *msg, json_t *fields)
{
  if (atomic_load(&quiet)) {
    json_decref(fields);
    return;
  }
  char when[32];
  now_text(when);
  json_t *line = json_pack("{s:s, s:s}", "ts", when, "level", level);
  if (msg)
    json_object_set_new(line, "msg", json_string(msg));
  if (fields)
    json_object_update(line, fields);
  json_decref(fields);
  /* Six significant digits: durations read 3.93, not 3.9300000000000002. */
  char *text = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(6));
  json_decref(line);
  if (!text)
    return;
  size_t len = strlen(text);
  text[len] = '\n'; /* overwrite the NUL: one write() of the whole line */
  ssize_t w = write(STDERR_FILENO, text, len + 1);
  (void)w;
  free(text);
}

void log_request(const struct log_request *r)
{
  if (atomic_load(&quiet))
    return;
  /* The same line log_json would write, formatted without building a JSON
   * value: it is written for every request.  Its four strings are cut at
   * 100 bytes, 600 once escaped at worst, so the line always fits. */
  char when[32];
  now_text(when);
  char line[4096];
  size_t n = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"info\",\"msg\":\"request\",\"request_id\":", when);
  const char *names[] = {"request_id", "method", "route"};
  const char *values[] = {r->request_id, r->method, r->route};
  for (size_t i = 0; i < 3; i++) {
    if (i)
      n += (size_t)snprintf(line + n, sizeof line - n, ",\"%s\":", names[i]);
    n += json_text_string(line + n, values[i], strnlen(values[i], 100));
  }
  /* Milliseconds to the microsecond, always with a fraction (a real). */
  long long us = r->duration_us < 0 ? 0 : r->duration_us;
  n += (size_t)snprintf(line + n, sizeof line - n, ",\"status\":%u,\"duration_ms\":%lld.%03lld", r->status,
                        us / 1000, us % 1000);
  if (r->key_id && *r->key_id) {
    n += (size_t)snprintf(line + n, sizeof line - n, ",\"key_id\":");
    n += json_text_string(line + n, r->key_id, strnlen(r->key_id, 100));
  }
  if (r->aborted)
    n += (size_t)snprintf(line + n, sizeof line - n, ",\"aborted\":%d", r->aborted);
  if (r->idempotent_replayed)
    n += (size_t)snprintf(line + n, sizeof line - n, ",\"idempotent_replayed\":true");
  line[n++] = '}';
  line[n++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, n);
  (void)w;
}

static void log_v(const char *level, const char *fmt, va_list ap)
{
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  log_json(level, msg, NULL);
}

void log_info(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  log_v("info", fmt, ap);
  va_end(ap);
}

void log_error(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  log_v("error", fmt, ap);
  va_end(ap);
}
