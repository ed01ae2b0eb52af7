/* GET /metrics: Prometheus text format 0.0.4, checked by a strict parser
 * of that format (below); requests counted by route pattern, method and
 * status, histograms consistent; sweeps counted by trigger and outcome;
 * database connections as PostgreSQL sees them; the webhook backlog; and
 * an answer without the database. */
#include "harness.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arc/db.h"
#include "arc/http.h"
#include "arc/router.h"
#include "arc/sweep.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ------------------------------------------------------ the format parser */

#define MAX_LABELS 8

struct sample {
  char *name;
  size_t n_labels;
  char *lk[MAX_LABELS], *lv[MAX_LABELS]; /* label values unescaped */
  double value;
  size_t family;
};

struct family {
  char *name;
  char *type;
  int help;
};

struct expo {
  struct sample *s;
  size_t n, cap;
  struct family *f;
  size_t nf, capf;
  char err[512]; /* why the text is not valid */
};

static void sample_free(struct sample *s)
{
  free(s->name);
  for (size_t k = 0; k < s->n_labels; k++) {
    free(s->lk[k]);
    free(s->lv[k]);
  }
  memset(s, 0, sizeof *s);
}

static void expo_free(struct expo *e)
{
  for (size_t i = 0; i < e->n; i++)
    sample_free(&e->s[i]);
  for (size_t i = 0; i < e->nf; i++) {
    free(e->f[i].name);
    free(e->f[i].type);
  }
  free(e->s);
  free(e->f);
  memset(e, 0, sizeof *e);
}

/* Records why the exposition is invalid; returns 0 for `return bad(...)`. */
static int bad(struct expo *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct expo *e, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->err, sizeof e->err, fmt, ap);
  va_end(ap);
  return 0;
}

static int name_ok(const char *s, size_t n, int colon)
{
  if (n == 0)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
             (i > 0 && c >= '0' && c <= '9');
    if (!ok)
      return 0;
  }
  return 1;
}

/* A sample value as the format writes it: a float or +Inf/-Inf/NaN. */
static int value_parse(const char *s, double *out)
{
  if (strcmp(s, "+Inf") == 0) {
    *out = INFINITY;
    return 1;
  }
  if (strcmp(s, "-Inf") == 0) {
    *out = -INFINITY;
    return 1;
  }
  if (strcmp(s, "NaN") == 0) {
    *out = NAN;
    return 1;
  }
  if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
    return 0;
  char *end;
  *out = strtod(s, &end);
  return *end == '\0';
}

static size_t family_find(const struct expo *e, const char *name)
{
  for (size_t i = 0; i < e->nf; i++)
    if (strcmp(e->f[i].name, name) == 0)
      return i;
  return (size_t)-1;
}

/* The family a sample name belongs to: its own, or a histogram's for the
 * _bucket, _sum and _count series. */
static size_t family_of(const struct expo *e, const char *name)
{
  size_t f = family_find(e, name);
  if (f != (size_t)-1)
    return f;
  static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
  for (size_t i = 0; i < 3; i++) {
    size_t n = strlen(name), sl = strlen(suffixes[i]);
    if (n > sl && strcmp(name + n - sl, suffixes[i]) == 0) {
      char base[256];
      snprintf(base, sizeof base, "%.*s", (int)(n - sl), name);
      f = family_find(e, base);
      if (f != (size_t)-1 && e->f[f].type && strcmp(e->f[f].type, "histogram") == 0)
        return f;
    }
  }
  return (size_t)-1;
}

static const char *label(const struct sample *s, const char *key)
{
  for (size_t i = 0; i < s->n_labels; i++)
    if (strcmp(s->lk[i], key) == 0)
      return s->lv[i];
  return NULL;
}

/* Same labels, leaving out SKIP (le) on both sides. */
static int same_labels(const struct sample *a, const struct sample *b, const char *skip)
{
  size_t na = 0, nb = 0;
  for (size_t i = 0; i < a->n_labels; i++) {
    if (skip && strcmp(a->lk[i], skip) == 0)
      continue;
    na++;
    const char *v = label(b, a->lk[i]);
    if (!v || strcmp(v, a->lv[i]) != 0)
      return 0;
  }
  for (size_t i = 0; i < b->n_labels; i++)
    if (!skip || strcmp(b->lk[i], skip) != 0)
      nb++;
  return na == nb;
}

/* NAME{labels} VALUE into S (freed by the caller either way). */
static int parse_sample_into(struct expo *e, struct sample *s, const char *line, int ln)
{
  const char *p = line;
  size_t n = strcspn(p, "{ ");
  if (!name_ok(p, n, 1))
    return bad(e, "line %d: bad metric name: %s", ln, line);
  s->name = strndup(p, n);
  p += n;
  if (*p == '{') {
    p++;
    while (*p != '}') {
      size_t kn = strcspn(p, "=");
      if (!name_ok(p, kn, 0) || p[kn] != '=' || p[kn + 1] != '"' || strncmp(p, "__", 2) == 0)
        return bad(e, "line %d: bad label name: %s", ln, line);
      if (s->n_labels == MAX_LABELS)
        return bad(e, "line %d: too many labels", ln);
      for (size_t i = 0; i < s->n_labels; i++)
        if (strlen(s->lk[i]) == kn && strncmp(s->lk[i], p, kn) == 0)
          return bad(e, "line %d: a label twice: %s", ln, line);
      s->lk[s->n_labels] = strndup(p, kn);
      s->lv[s->n_labels] = NULL;
      s->n_labels++;
      p += kn + 2;
      char v[1024];
      size_t vl = 0;
      while (*p != '"') {
        if (!*p || vl + 2 >= sizeof v)
          return bad(e, "line %d: unterminated label value: %s", ln, line);
        if (*p == '\\') {
          p++;
          if (*p == 'n')
            v[vl++] = '\n';
          else if (*p == '\\' || *p == '"')
            v[vl++] = *p;
          else
            return bad(e, "line %d: bad escape in %s", ln, line);
        } else {
          v[vl++] = *p;
        }
        p++;
      }
      v[vl] = '\0';
      s->lv[s->n_labels - 1] = strdup(v);
      p++;
      if (*p == ',' && p[1] == '}')
        return bad(e, "line %d: trailing comma: %s", ln, line);
      if (*p == ',')
        p++;
      else if (*p != '}')
        return bad(e, "line %d: expected , or } after a label: %s", ln, line);
    }
    p++;
  }
  if (*p != ' ' || p[1] == ' ' || !p[1])
    return bad(e, "line %d: expected one space, then the value: %s", ln, line);
  p++;
  /* This exporter writes no timestamps: the value is the rest of the line. */
  if (!value_parse(p, &s->value))
    return bad(e, "line %d: bad value '%s'", ln, p);
  s->family = family_of(e, s->name);
  if (s->family == (size_t)-1)
    return bad(e, "line %d: %s without a # TYPE before it", ln, s->name);
  for (size_t i = 0; i < e->n; i++)
    if (strcmp(e->s[i].name, s->name) == 0 && same_labels(&e->s[i], s, NULL))
      return bad(e, "line %d: series repeated: %s", ln, line);
  return 1;
}

static int parse_sample(struct expo *e, const char *line, int ln)
{
  struct sample s = {0};
  if (!parse_sample_into(e, &s, line, ln)) {
    sample_free(&s);
    return 0;
  }
  if (e->n == e->cap) {
    e->cap = e->cap ? e->cap * 2 : 64;
    e->s = realloc(e->s, e->cap * sizeof *e->s);
  }
  e->s[e->n++] = s;
  return 1;
}

/* Every histogram series: buckets by rising le ending with +Inf,
 * cumulative, +Inf equal to _count, one _sum, >= 0. */
static int check_histograms(struct expo *e)
{
  for (size_t i = 0; i < e->n; i++) {
    const struct sample *c = &e->s[i];
    const struct family *f = &e->f[c->family];
    if (strcmp(f->type, "histogram") != 0)
      continue;
    size_t bl = strlen(f->name);
    const char *suffix = c->name + bl;
    if (strcmp(suffix, "_bucket") == 0) {
      if (!label(c, "le"))
        return bad(e, "%s without le", c->name);
      continue;
    }
    if (label(c, "le"))
      return bad(e, "%s with le", c->name);
    if (strcmp(suffix, "_sum") == 0) {
      if (!(c->value >= 0))
        return bad(e, "%s is %g", c->name, c->value);
      continue;
    }
    if (strcmp(suffix, "_count") != 0)
      return bad(e, "%s in histogram %s", c->name, f->name);
    double prev_le = -INFINITY, prev_n = 0;
    size_t buckets = 0, sums = 0;
    int inf = 0;
    for (size_t j = 0; j < e->n; j++) {
      const struct sample *b = &e->s[j];
      if (b->family != c->family || !same_labels(b, c, "le"))
        continue;
      if (strcmp(b->name + bl, "_sum") == 0) {
        sums++;
        continue;
      }
      if (strcmp(b->name + bl, "_bucket") != 0)
        continue;
      double le;
      if (!value_parse(label(b, "le"), &le) || !(le > prev_le))
        return bad(e, "%s: le=%s out of order", b->name, label(b, "le"));
      if (b->value < prev_n)
        return bad(e, "%s: bucket le=%s holds %g, below the previous %g: not cumulative", b->name,
                   label(b, "le"), b->value, prev_n);
      prev_le = le;
      prev_n = b->value;
      inf = isinf(le);
      buckets++;
    }
    if (!buckets || !inf)
      return bad(e, "%s: no +Inf bucket", c->name);
    if (prev_n != c->value)
      return bad(e, "%s: +Inf bucket %g differs from _count %g", c->name, prev_n, c->value);
    if (sums != 1)
      return bad(e, "%s: %zu _sum series", c->name, sums);
  }
  /* And no buckets without a _count. */
  for (size_t i = 0; i < e->n; i++) {
    const struct sample *b = &e->s[i];
    const struct family *f = &e->f[b->family];
    if (strcmp(f->type, "histogram") != 0 || strcmp(b->name + strlen(f->name), "_count") == 0)
      continue;
    int counted = 0;
    for (size_t j = 0; j < e->n && !counted; j++)
      counted = e->s[j].family == b->family && strcmp(e->s[j].name + strlen(f->name), "_count") == 0 &&
                same_labels(&e->s[j], b, "le");
    if (!counted)
      return bad(e, "%s without _count", b->name);
  }
  return 1;
}

/* One # HELP or # TYPE line; CURRENT is the family being written. */
static int parse_comment(struct expo *e, const char *line, int ln, size_t *current)
{
  char kind[8], name[256];
  int off = 0;
  if (sscanf(line, "# %7s %255s %n", kind, name, &off) < 2 || off == 0 || line[off - 1] != ' ')
    return bad(e, "line %d: a comment this exporter does not write: %s", ln, line);
  if (!name_ok(name, strlen(name), 1))
    return bad(e, "line %d: bad name %s", ln, name);
  size_t f = family_find(e, name);
  if (f != (size_t)-1 && f != *current)
    return bad(e, "line %d: family %s is split", ln, name);
  if (f == (size_t)-1) {
    if (e->nf == e->capf) {
      e->capf = e->capf ? e->capf * 2 : 16;
      e->f = realloc(e->f, e->capf * sizeof *e->f);
    }
    e->f[e->nf] = (struct family){.name = strdup(name)};
    f = *current = e->nf++;
  }
  const char *rest = line + off;
  if (strcmp(kind, "HELP") == 0) {
    if (e->f[f].help++ || e->f[f].type)
      return bad(e, "line %d: HELP of %s twice or after its TYPE", ln, name);
    if (!*rest)
      return bad(e, "line %d: empty HELP", ln);
    for (const char *p = rest; *p; p++)
      if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
        return bad(e, "line %d: bad escape in HELP", ln);
      else if (*p == '\\')
        p++;
    return 1;
  }
  if (strcmp(kind, "TYPE") != 0)
    return bad(e, "line %d: a comment this exporter does not write: %s", ln, line);
  if (e->f[f].type)
    return bad(e, "line %d: TYPE of %s twice", ln, name);
  if (strcmp(rest, "counter") && strcmp(rest, "gauge") && strcmp(rest, "histogram") && strcmp(rest, "summary") &&
      strcmp(rest, "untyped"))
    return bad(e, "line %d: unknown type %s", ln, rest);
  if (strcmp(rest, "counter") == 0 && (strlen(name) < 7 || strcmp(name + strlen(name) - 6, "_total") != 0))
    return bad(e, "line %d: counter %s does not end in _total", ln, name);
  e->f[f].type = strdup(rest);
  return 1;
}

/* Parses BODY strictly: HELP then TYPE before a family's samples, once
 * each; a family's lines together; counters named *_total and never
 * negative; histograms consistent; no blank lines; a newline after every
 * line.  0 with E->err set when the text is not valid. */
static int expo_parse(struct expo *e, const char *body, size_t len)
{
  memset(e, 0, sizeof *e);
  if (len == 0 || body[len - 1] != '\n')
    return bad(e, "the exposition must end with a newline");
  if (memchr(body, '\0', len) || memchr(body, '\r', len))
    return bad(e, "NUL or CR in the exposition");
  json_t *utf8 = json_stringn(body, len);
  if (!utf8)
    return bad(e, "the exposition is not UTF-8");
  json_decref(utf8);
  char *copy = strndup(body, len);
  size_t current = (size_t)-1;
  int ln = 0, ok = 1;
  for (char *line = copy, *next; ok && *line; line = next) {
    char *nl = strchr(line, '\n');
    *nl = '\0';
    next = nl + 1;
    ln++;
    if (!*line) {
      ok = bad(e, "line %d is empty", ln);
    } else if (line[0] == '#') {
      ok = parse_comment(e, line, ln, &current);
    } else if ((ok = parse_sample(e, line, ln))) {
      const struct sample *s = &e->s[e->n - 1];
      if (s->family != current)
        ok = bad(e, "line %d: %s is apart from its family", ln, s->name);
      else if (strcmp(e->f[current].type, "counter") == 0 && !(s->value >= 0))
        ok = bad(e, "line %d: a counter below zero", ln);
    }
  }
  free(copy);
  for (size_t i = 0; ok && i < e->nf; i++)
    if (!e->f[i].type || !e->f[i].help)
      ok = bad(e, "family %s lacks HELP or TYPE", e->f[i].name);
  return ok && check_histograms(e);
}

/* The value of the series NAME with exactly the labels given as NULL-ended
 * (key, value) pairs; NAN when there is none. */
static double get(const struct expo *e, const char *name, ...)
{
  struct sample want = {0};
  va_list ap;
  va_start(ap, name);
  for (const char *k; (k = va_arg(ap, const char *)) != NULL;) {
    want.lk[want.n_labels] = (char *)k;
    want.lv[want.n_labels++] = va_arg(ap, char *);
  }
  va_end(ap);
  for (size_t i = 0; i < e->n; i++)
    if (strcmp(e->s[i].name, name) == 0 && same_labels(&e->s[i], &want, NULL))
      return e->s[i].value;
  return NAN;
}

/* The same, with a missing series counted as 0 (a counter not yet seen). */
#define GET0(e, ...) (isnan(get(e, __VA_ARGS__)) ? 0.0 : get(e, __VA_ARGS__))

static int has_family(const struct expo *e, const char *name, const char *type)
{
  size_t f = family_find(e, name);
  return f != (size_t)-1 && strcmp(e->f[f].type, type) == 0;
}

/* Debian's prometheus package has promtool: where it is installed, it
 * checks the text too (the parser above is the check that always runs). */
static void promtool_check(const char *body, size_t len)
{
  static int have = -1;
  if (have < 0) {
    have = system("command -v promtool >/dev/null 2>&1") == 0;
    if (!have)
      fprintf(stderr, "metrics: promtool not installed; the test's own parser checks the format\n");
  }
  if (!have)
    return;
  FILE *p = popen("promtool check metrics", "w");
  assert_non_null(p);
  assert_int_equal(fwrite(body, 1, len, p), len);
  int rc = pclose(p);
  if (rc != 0)
    fail_msg("promtool check metrics refused the exposition (%d):\n%s", rc, body);
}

/* GET /metrics without a key, checked and parsed. */
static void scrape(struct expo *e, struct http_resp *r)
{
  http(r, "GET", "/metrics", NO_KEY, NULL, NULL);
  assert_status(r, 200);
  assert_string_equal(r->content_type, CONTENT_TYPE);
  if (!expo_parse(e, r->body, r->body_len))
    fail_msg("not valid exposition text: %s\n%s", e->err, r->body);
  promtool_check(r->body, r->body_len);
  /* Labels are bounded: route patterns of the route table, known methods
   * and status codes, never a raw path. */
  for (size_t i = 0; i < e->n; i++) {
    const char *route = label(&e->s[i], "route"), *method = label(&e->s[i], "method"),
               *status = label(&e->s[i], "status");
    int known = !route || strcmp(route, "unmatched") == 0;
    for (size_t k = 0; route && k < arc_routes_count && !known; k++)
      known = strcmp(route, arc_routes[k].pattern) == 0;
    if (!known)
      fail_msg("route label %s is not a route pattern", route);
    if (method && !strstr(" GET HEAD POST PUT PATCH DELETE OPTIONS other ", method))
      fail_msg("method label %s", method);
    if (status && (strlen(status) != 3 || strspn(status, "0123456789x") != 3))
      fail_msg("status label %s", status);
  }
}

/* ------------------------------------------------------------------ tests */

static void format_and_families(void **state)
{
  (void)state;
  struct http_resp r = {0};
  struct expo e;
  scrape(&e, &r);
  assert_true(get(&e, "arcollect_up", NULL) == 1);
  assert_true(get(&e, "arcollect_db_up", NULL) == 1);
  static const struct {
    const char *name, *type;
  } families[] = {
      {"arcollect_up", "gauge"},
      {"arcollect_db_up", "gauge"},
      {"arcollect_db_connections", "gauge"},
      {"arcollect_db_connection_attempts_total", "counter"},
      {"arcollect_http_requests_total", "counter"},
      {"arcollect_http_request_duration_seconds", "histogram"},
      {"arcollect_http_requests_unanswered_total", "counter"},
      {"arcollect_scheduler_runs_total", "counter"},
      {"arcollect_scheduler_run_duration_seconds", "histogram"},
      {"arcollect_scheduler_last_run_timestamp_seconds", "gauge"},
      {"arcollect_webhook_backlog", "gauge"},
      {"arcollect_webhook_oldest_due_seconds", "gauge"},
  };
  for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
    if (!has_family(&e, families[i].name, families[i].type))
      fail_msg("no %s family %s", families[i].type, families[i].name);
  /* No sweep yet: no time of the last one. */
  assert_true(isnan(get(&e, "arcollect_scheduler_last_run_timestamp_seconds", NULL)));
  expo_free(&e);

  http_resp_clear(&r);
}

/* The test's parser accepts the format and refuses what it forbids, so the
 * checks above can fail. */
static void parser_is_strict(void **state)
{
  (void)state;
  static const char valid[] =
      "# HELP a_total A \\\\ counter\\n.\n# TYPE a_total counter\na_total{l=\"q\\\"\\\\\\n\",m=\"\"} 1.5e3\n"
      "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.75\nh_count 2\n";
  struct expo e;
  if (!expo_parse(&e, valid, strlen(valid)))
    fail_msg("valid text refused: %s", e.err);
  assert_true(get(&e, "a_total", "l", "q\"\\\n", "m", "", NULL) == 1500);
  expo_free(&e);
  static const char *const invalid[] = {
      "x_total 1\n",                                         /* no TYPE */
      "# TYPE a gauge\na 1\n",                               /* no HELP */
      "# HELP a b\n# TYPE a gauge\na{l=\"v\"} 1",            /* no final newline */
      "# HELP a b\n# TYPE a gauge\n\na 1\n",                 /* blank line */
      "# HELP a b\n# TYPE a gauge\na{l=\"v\\x\"} 1\n",       /* bad escape */
      "# HELP a b\n# TYPE a gauge\na{l=\"v\",} 1\n",         /* trailing comma */
      "# HELP a b\n# TYPE a gauge\na{l=\"v} 1\n",            /* unterminated value */
      "# HELP a b\n# TYPE a gauge\na{1l=\"v\"} 1\n",         /* bad label name */
      "# HELP a b\n# TYPE a gauge\na{l=\"v\",l=\"w\"} 1\n",  /* label twice */
      "# HELP a b\n# TYPE a counter\na 1\n",                 /* counter without _total */
      "# HELP a_total b\n# TYPE a_total counter\na_total -1\n", /* counter below zero */
      "# HELP a b\n# TYPE a gauge\na 1\na 2\n",              /* repeated series */
      "# HELP a b\n# TYPE a gauge\na one\n",                 /* bad value */
      "# HELP a b\n# TYPE a gauge\na  1\n",                  /* two spaces */
      "# HELP a b\n# TYPE a gauge\n# HELP c d\n# TYPE c gauge\nc 1\na 1\n", /* family split */
      "# HELP a b\n# TYPE a gauge\n# TYPE a gauge\na 1\n",   /* TYPE twice */
      "# HELP a b\n# TYPE a meter\na 1\n",                   /* unknown type */
      "# HELP h b\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
      "# HELP h b\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
      "# HELP h b\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",
      "# HELP h b\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n",
      "# HELP h b\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum -1\nh_count 2\n",
      "# HELP h b\n# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n"
      "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
      "# HELP h b\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n",
  };
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    if (expo_parse(&e, invalid[i], strlen(invalid[i])))
      fail_msg("invalid text %zu accepted:\n%s", i, invalid[i]);
    expo_free(&e);
  }
}

/* A count the requests of a test must have moved by exactly N: requests
 * (STATUS set) or the duration histogram's _count (STATUS NULL). */
struct want {
  const char *method, *route, *status;
  double n;
};

static double count_of(const struct expo *e, const struct want *w)
{
  return w->status ? GET0(e, "arcollect_http_requests_total", "method", w->method, "route", w->route, "status",
                          w->status, NULL)
                   : GET0(e, "arcollect_http_request_duration_seconds_count", "method", w->method, "route",
                          w->route, NULL);
}

/* Scrapes into B until every count moved from A by exactly its N.  A reply
 * reaches the client a moment before the server's completion callback
 * counts it, so a count may lag briefly; it may never overshoot.  Scrapes
 * count too: a want for GET /metrics 200 gets one more per extra scrape. */
static void scrape_until_counted(const struct expo *a, struct expo *b, struct http_resp *r, struct want *w,
                                 size_t n)
{
  for (int attempt = 0;; attempt++) {
    scrape(b, r);
    int short_of = 0;
    for (size_t i = 0; i < n; i++) {
      double d = count_of(b, &w[i]) - count_of(a, &w[i]);
      if (d > w[i].n)
        fail_msg("%s %s %s: counted %g, want %g", w[i].method, w[i].route, w[i].status ? w[i].status : "(_count)",
                 d, w[i].n);
      if (d < w[i].n && attempt == 50)
        fail_msg("%s %s %s: counted %g, want %g", w[i].method, w[i].route, w[i].status ? w[i].status : "(_count)",
                 d, w[i].n);
      short_of |= d < w[i].n;
    }
    if (!short_of)
      return;
    expo_free(b);
    for (size_t i = 0; i < n; i++)
      if (strcmp(w[i].route, "/metrics") == 0)
        w[i].n++;
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
  }
}

/* HEAD, a public route and one with an id, errors by route, 404 and 405
 * without a route, an unknown method: each counted once under the route
 * pattern, never the raw path. */
static void requests_by_route(void **state)
{
  (void)state;
  struct http_resp r = {0};
  struct expo a, b;
  const char *cus = make_customer("Metrics Ltd");
  char cus_id[32];
  snprintf(cus_id, sizeof cus_id, "%s", cus);
  scrape(&a, &r);

  for (int i = 0; i < 3; i++) {
    http(&r, "GET", "/healthz", NO_KEY, NULL, NULL);
    assert_status(&r, 200);
  }
  http(&r, "HEAD", "/healthz", NO_KEY, NULL, NULL);
  assert_status(&r, 200);
  for (int i = 0; i < 2; i++) {
    httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s", cus_id);
    assert_status(&r, 200);
  }
  http(&r, "GET", "/v1/customers/zzrawidzz", ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 404);
  http(&r, "GET", "/v1/customers", NO_KEY, NULL, NULL);
  assert_status(&r, 401);
  http(&r, "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": 5}", NULL);
  assert_status(&r, 422);
  http(&r, "GET", "/zz-no-such-path", NO_KEY, NULL, NULL);
  assert_status(&r, 404);
  http(&r, "DELETE", "/v1/customers", ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 405, "method-not-allowed", NULL);
  http(&r, "BREW", "/healthz", NO_KEY, NULL, NULL);
  assert_status(&r, 405);

  struct want want[] = {
      {"GET", "/healthz", "200", 3},
      {"HEAD", "/healthz", "200", 1},
      {"GET", "/v1/customers/{id}", "200", 2},
      {"GET", "/v1/customers/{id}", "404", 1},
      {"GET", "/v1/customers", "401", 1},
      {"POST", "/v1/customers", "422", 1},
      {"GET", "unmatched", "404", 1},
      {"DELETE", "unmatched", "405", 1},
      {"other", "unmatched", "405", 1},
      {"GET", "/metrics", "200", 1}, /* the first scrape; each counts after its reply */
      /* The duration histograms move with the counts. */
      {"GET", "/healthz", NULL, 3},
      {"HEAD", "/healthz", NULL, 1},
      {"GET", "/v1/customers/{id}", NULL, 3},
      {"other", "unmatched", NULL, 1},
  };
  scrape_until_counted(&a, &b, &r, want, sizeof want / sizeof want[0]);
  /* Raw paths never become labels (scrape() checks every route label too). */
  char raw[64];
  snprintf(raw, sizeof raw, "/v1/customers/%s\"", cus_id);
  assert_null(strstr(r.body, raw));
  assert_null(strstr(r.body, "zzrawidzz"));
  assert_null(strstr(r.body, "zz-no-such-path"));
  assert_null(strstr(r.body, "BREW"));
  expo_free(&a);
  expo_free(&b);
  http_resp_clear(&r);
}

/* For every method and route: the counts by status add up to the
 * histogram's _count, and the buckets are cumulative (the parser checks). */
static void histograms_agree_with_counts(void **state)
{
  (void)state;
  struct http_resp r = {0};
  struct expo e;
  scrape(&e, &r);
  size_t series = 0;
  for (size_t i = 0; i < e.n; i++) {
    const struct sample *c = &e.s[i];
    if (strcmp(c->name, "arcollect_http_request_duration_seconds_count") != 0)
      continue;
    double total = 0;
    for (size_t j = 0; j < e.n; j++) {
      const struct sample *t = &e.s[j];
      if (strcmp(t->name, "arcollect_http_requests_total") == 0 && same_labels(t, c, "status"))
        total += t->value;
    }
    if (total != c->value)
      fail_msg("%s %s: %g requests but _count %g", label(c, "method"), label(c, "route"), total, c->value);
    double sum = get(&e, "arcollect_http_request_duration_seconds_sum", "method", label(c, "method"), "route",
                     label(c, "route"), NULL);
    assert_true(sum >= 0 && sum < c->value * 60);
    series++;
  }
  assert_true(series >= 5);
  expo_free(&e);
  http_resp_clear(&r);
}

/* Requests from several threads at once: none lost. */
struct hammer {
  const char *url;
  int n;
  int ok;
};

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
  (void)p;
  (void)ud;
  return size * n;
}

static void *hammer_main(void *arg)
{
  struct hammer *h = arg;
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, h->url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  for (int i = 0; i < h->n; i++) {
    long st = 0;
    if (curl_easy_perform(c) == CURLE_OK && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK &&
        st == 200)
      h->ok++;
  }
  curl_easy_cleanup(c);
  return NULL;
}

static void concurrent_requests_all_counted(void **state)
{
  (void)state;
  enum { THREADS = 6, EACH = 40 };
  struct http_resp r = {0};
  struct expo a, b;
  scrape(&a, &r);
  char url[256];
  snprintf(url, sizeof url, "%s/readyz", harness_base());
  pthread_t th[THREADS];
  struct hammer h[THREADS];
  for (int i = 0; i < THREADS; i++) {
    h[i] = (struct hammer){.url = url, .n = EACH};
    assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(h[i].ok, EACH);
  }
  struct want want[] = {
      {"GET", "/readyz", "200", THREADS * EACH},
      {"GET", "/readyz", NULL, THREADS * EACH},
  };
  scrape_until_counted(&a, &b, &r, want, 2);
  expo_free(&a);
  expo_free(&b);
  http_resp_clear(&r);
}

/* POST /v1/scheduler/runs counts as an "api" run; the scheduler's sweep
 * (run here in-process, as its thread does) as "scheduler", skipped while
 * another instance holds the lock; a refused POST runs nothing. */
static void scheduler_runs_counted(void **state)
{
  (void)state;
  struct http_resp r = {0};
  struct expo a, b;
  scrape(&a, &r);

  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{\"as_of\": 5}", NULL);
  assert_problem(&r, 422, "validation", "as_of");
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 201);
  long long t_api = (long long)time(NULL);

  struct db *db = db_thread();
  assert_true(db_ready(db));
  PGconn *holder = hold_sweep_lock();
  struct reply rp = {0};
  assert_int_equal(sweep_run(db, NULL, "scheduler", SWEEP_SKIP_IF_BUSY, 0, &rp), 409);
  reply_clear(&rp);
  PQclear(PQexec(holder, "ROLLBACK"));
  PQfinish(holder);
  assert_int_equal(sweep_run(db, NULL, "scheduler", SWEEP_SKIP_IF_BUSY, 0, &rp), 201);
  reply_clear(&rp);
  db_pool_shutdown();

  scrape(&b, &r);
  static const struct {
    const char *trigger, *outcome;
  } runs[] = {{"api", "ok"}, {"scheduler", "skipped"}, {"scheduler", "ok"}};
  for (size_t i = 0; i < 3; i++) {
    double d = get(&b, "arcollect_scheduler_runs_total", "trigger", runs[i].trigger, "outcome", runs[i].outcome,
                   NULL) -
               GET0(&a, "arcollect_scheduler_runs_total", "trigger", runs[i].trigger, "outcome", runs[i].outcome,
                    NULL);
    if (d != 1)
      fail_msg("runs %s/%s moved by %g", runs[i].trigger, runs[i].outcome, d);
    d = get(&b, "arcollect_scheduler_run_duration_seconds_count", "trigger", runs[i].trigger, "outcome",
            runs[i].outcome, NULL) -
        GET0(&a, "arcollect_scheduler_run_duration_seconds_count", "trigger", runs[i].trigger, "outcome",
             runs[i].outcome, NULL);
    assert_true(d == 1);
  }
  assert_true(GET0(&b, "arcollect_scheduler_runs_total", "trigger", "api", "outcome", "failed", NULL) ==
              GET0(&a, "arcollect_scheduler_runs_total", "trigger", "api", "outcome", "failed", NULL));
  /* The newest run of any instance, as the database has it: the last sweep. */
  double last = get(&b, "arcollect_scheduler_last_run_timestamp_seconds", NULL);
  double want = (double)harness_sql_int("SELECT extract(epoch FROM max(finished_at))::bigint FROM scheduler_runs");
  assert_true(fabs(last - want) < 1.0);
  assert_true(last >= (double)t_api - 5 && last <= (double)time(NULL) + 5);
  expo_free(&a);
  expo_free(&b);
  http_resp_clear(&r);
}

static long long arcollectd_sessions(void)
{
  return harness_sql_int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                         "AND application_name = 'arcollectd'");
}

/* Scrapes into E until the open connections equal the sessions PostgreSQL
 * sees from this process: a connection closed just before may take a
 * moment to leave pg_stat_activity. */
static void scrape_matching_sessions(struct expo *e, struct http_resp *r)
{
  for (int i = 0;; i++) {
    scrape(e, r);
    double open = get(e, "arcollect_db_connections", "state", "open", NULL);
    long long sessions = arcollectd_sessions();
    if (open == (double)sessions)
      return;
    if (i == 30)
      fail_msg("%g connections open, PostgreSQL sees %lld", open, sessions);
    expo_free(e);
    sleep_ms(100);
  }
}

/* Open connections are those PostgreSQL sees from this process; one more
 * while this thread holds one, one fewer once it lets it go. */
static void db_connections_reported(void **state)
{
  (void)state;
  struct http_resp r = {0};
  struct expo e;
  scrape_matching_sessions(&e, &r);
  double open = get(&e, "arcollect_db_connections", "state", "open", NULL);
  assert_true(open >= 1);
  assert_true(get(&e, "arcollect_db_connections", "state", "down", NULL) == 0);
  double attempts = get(&e, "arcollect_db_connection_attempts_total", "outcome", "ok", NULL);
  assert_true(attempts >= open);
  expo_free(&e);

  assert_true(db_ready(db_thread()));
  scrape_matching_sessions(&e, &r);
  assert_true(get(&e, "arcollect_db_connections", "state", "open", NULL) == open + 1);
  assert_true(get(&e, "arcollect_db_connection_attempts_total", "outcome", "ok", NULL) == attempts + 1);
  expo_free(&e);

  db_pool_shutdown();
  scrape(&e, &r);
  assert_true(get(&e, "arcollect_db_connections", "state", "open", NULL) == open);
  expo_free(&e);
  http_resp_clear(&r);
}

/* The backlog is the pending deliveries of every subscription; the oldest
 * due one tells how far delivery lags. */
static void webhook_backlog(void **state)
{
  (void)state;
  struct http_resp r = {0};
  struct expo e;
  scrape(&e, &r);
  assert_true(get(&e, "arcollect_webhook_backlog", NULL) == 0);
  assert_true(get(&e, "arcollect_webhook_oldest_due_seconds", NULL) == 0);
  expo_free(&e);

  long long hook = harness_sql_int("INSERT INTO webhooks (url, secret) VALUES ('http://127.0.0.1:9/hook', "
                                   "'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw') RETURNING id");
  harness_sql_int("INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, status, next_attempt_at) "
                  "VALUES (%lld, 1, 'customer.created', 'pending', now() - interval '90 seconds'), "
                  "(%lld, 2, 'customer.created', 'pending', now() + interval '1 hour'), "
                  "(%lld, 3, 'customer.created', 'pending', NULL), "
                  "(%lld, 4, 'customer.created', 'delivered', NULL), "
                  "(%lld, 5, 'customer.created', 'failed', NULL) RETURNING 1",
                  hook, hook, hook, hook, hook);
  scrape(&e, &r);
  assert_true(get(&e, "arcollect_webhook_backlog", NULL) == 3);
  double lag = get(&e, "arcollect_webhook_oldest_due_seconds", NULL);
  assert_true(lag >= 90 && lag < 90 + 120);
  expo_free(&e);

  harness_sql_int("WITH d AS (UPDATE webhook_deliveries SET status = 'delivered', next_attempt_at = NULL "
                  "WHERE webhook_id = %lld RETURNING 1) SELECT count(*) FROM d",
                  hook);
  scrape(&e, &r);
  assert_true(get(&e, "arcollect_webhook_backlog", NULL) == 0);
  assert_true(get(&e, "arcollect_webhook_oldest_due_seconds", NULL) == 0);
  expo_free(&e);
  http_resp_clear(&r);
}

/* Every server connection is cut: /metrics still answers 200 with the
 * process's metrics and arcollect_db_up 0, then recovers.  Last: the other
 * tests would see the cut. */
static void answers_without_database(void **state)
{
  (void)state;
  struct http_resp r = {0};
  struct expo e;
  scrape(&e, &r);
  double attempts = get(&e, "arcollect_db_connection_attempts_total", "outcome", "ok", NULL);
  double requests =
      get(&e, "arcollect_http_requests_total", "method", "GET", "route", "/metrics", "status", "200", NULL);
  expo_free(&e);
  assert_true(harness_sql_int("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND application_name = 'arcollectd'") >= 1);
  sleep_ms(200);

  /* The scrape's thread had a connection (the one just cut), unless curl
   * landed on a thread that never had one: try a few. */
  int seen_down = 0;
  for (int i = 0; i < 8 && !seen_down; i++) {
    scrape(&e, &r);
    assert_true(get(&e, "arcollect_up", NULL) == 1);
    if (get(&e, "arcollect_db_up", NULL) == 0) {
      seen_down = 1;
      /* Without the database: process metrics only, none read from it. */
      assert_true(has_family(&e, "arcollect_http_requests_total", "counter"));
      assert_true(get(&e, "arcollect_http_requests_total", "method", "GET", "route", "/metrics", "status", "200",
                      NULL) >= requests + 1);
      assert_int_equal(family_find(&e, "arcollect_webhook_backlog"), (size_t)-1);
      assert_int_equal(family_find(&e, "arcollect_scheduler_last_run_timestamp_seconds"), (size_t)-1);
      assert_true(get(&e, "arcollect_db_connections", "state", "down", NULL) >= 1);
    }
    expo_free(&e);
  }
  assert_true(seen_down);

  /* Each thread reconnects on its next request, after a short back-off. */
  int up = 0;
  for (int i = 0; i < 50 && !up; i++) {
    sleep_ms(100);
    scrape(&e, &r);
    up = get(&e, "arcollect_db_up", NULL) == 1;
    if (up)
      assert_true(get(&e, "arcollect_db_connection_attempts_total", "outcome", "ok", NULL) >= attempts + 1);
    expo_free(&e);
  }
  assert_true(up);
  http_resp_clear(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parser_is_strict),
      cmocka_unit_test(format_and_families),
      cmocka_unit_test(requests_by_route),
      cmocka_unit_test(histograms_agree_with_counts),
      cmocka_unit_test(concurrent_requests_all_counted),
      cmocka_unit_test(scheduler_runs_counted),
      cmocka_unit_test(db_connections_reported),
      cmocka_unit_test(webhook_backlog),
      cmocka_unit_test(answers_without_database),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
