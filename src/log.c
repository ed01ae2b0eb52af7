/* JSON-lines logging to stderr; one write per line so threads don't interleave. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arc/log.h"

static atomic_int quiet;

void log_set_quiet(int q) { atomic_store(&quiet, q); }

void log_json(const char *level, const char *msg, json_t *fields)
{
  if (atomic_load(&quiet)) {
    json_decref(fields);
    return;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[40];
  size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);
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
