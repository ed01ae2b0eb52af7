/* /v1/webhooks: subscriptions to the event feed (SPEC §2).  A subscription
 * is a URL, an event type filter and a signing secret that is shown once,
 * in the answer to POST.  The delivery thread (delivery.c) does the
 * sending; the rules live in webhooks.sql. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/resource.h"
#include "arc/internal_addr.h"
#include "arc/webhooks.h"

#define DESCRIPTION_MAX 1000
#define EVENT_TYPES_MAX 100
#define EVENT_TYPE_MAX 100

static const char *const delivery_statuses[] = {"pending", "delivered", "failed", NULL};

int webhook_secret_new(char out[WEBHOOK_SECRET_SIZE])
{
  unsigned char raw[WEBHOOK_SECRET_BYTES];
  if (RAND_bytes(raw, sizeof raw) != 1)
    return -1;
  size_t n = strlen(WEBHOOK_SECRET_PREFIX);
  memcpy(out, WEBHOOK_SECRET_PREFIX, n);
  /* 32 bytes → 44 base64 characters + NUL: fits in 64 - 6. */
  EVP_EncodeBlock((unsigned char *)out + n, raw, sizeof raw);
  OPENSSL_cleanse(raw, sizeof raw);
  return 0;
}

/* libcurl's own parser decides what a URL is, so what is accepted here is
 * exactly what the delivery thread can send to.  When it is fine and HOST
 * is not NULL, the URL's host goes there (an IPv6 literal without its
 * brackets). */
static const char *url_check(const char *url, char *host_out, size_t size)
{
  size_t len = strlen(url);
  if (len > WEBHOOK_URL_MAX)
    return "must be at most 2000 characters";
  for (const char *p = url; *p; p++)
    if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
      return "must be an absolute http or https URL without spaces or non-ASCII characters "
             "(percent-encode them)";
  CURLU *u = curl_url();
  if (!u)
    return "cannot be checked now";
  const char *why = NULL;
  char *scheme = NULL, *host = NULL;
  if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host)
    why = "must be an absolute http or https URL such as https://crm.example.com/hooks/arcollect";
  else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
    why = "must use http or https";
  else if (strncasecmp(url, scheme, strlen(scheme)) != 0 || strncmp(url + strlen(scheme), "://", 3) != 0 ||
           url[strlen(scheme) + 3] == '/')
    why = "must start with http:// or https:// and a host";
  if (!why && host_out) {
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
      snprintf(host_out, size, "%.*s", (int)(n - 2), host + 1);
    else
      snprintf(host_out, size, "%s", host);
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return why;
}

const char *webhook_url_problem(const char *url) { return url_check(url, NULL, 0); }

/* An event type ("invoice.created"), a prefix pattern ("follow_up.*") or
 * "*": dot-separated names of lower-case letters, digits and underscores,
 * at least two parts, the last of which may be "*". */
static int event_type_pattern_ok(const char *s)
{
  if (strcmp(s, "*") == 0)
    return 1;
  int parts = 0;
  const char *p = s;
  for (;;) {
    const char *start = p;
    if (*p == '*' && (p[1] == '\0') && parts >= 1)
      return 1;
    if (!islower((unsigned char)*p))
      return 0;
    while (islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_')
      p++;
    if (p == start)
      return 0;
    parts++;
    if (*p == '\0')
      return parts >= 2;
    if (*p != '.')
      return 0;
    p++;
  }
}

static void check_event_types(const json_t *v, const char *field, struct field_errors *fe)
{
  if (!json_is_array(v)) {
    field_error(fe, field, "must be an array of event types such as \"payment.received\" or \"follow_up.*\"");
    return;
  }
  if (json_array_size(v) > EVENT_TYPES_MAX) {
    field_error(fe, field, "must list at most %d event types", EVENT_TYPES_MAX);
    return;
  }
  size_t i;
  const json_t *item;
  json_array_foreach(v, i, item) {
    char item_field[200];
    snprintf(item_field, sizeof item_field, "%s[%zu]", field, i);
    const char *s = json_string_value(item);
    if (!s || json_string_length(item) > EVENT_TYPE_MAX || strlen(s) != json_string_length(item) ||
        !event_type_pattern_ok(s)) {
      field_error(fe, item_field,
                  "must be an event type such as \"payment.received\", a pattern such as \"follow_up.*\", "
                  "or \"*\" (at most %d characters)",
                  EVENT_TYPE_MAX);
      continue;
    }
    for (size_t j = 0; j < i; j++)
      if (json_equal(item, json_array_get(v, j))) {
        field_error(fe, item_field, "is listed twice");
        break;
      }
  }
}

/* Unless ARC_WEBHOOK_ALLOW_PRIVATE: an internal address HOST is or
 * resolves to, written into WHY; 0 when none.  A host that does not
 * resolve now passes: the delivery checks every address it connects to
 * (delivery.c), which also catches a name that later resolves elsewhere. */
static int host_reaches_internal(const char *host, char *why, size_t size)
{
  if (internal_addr_allowed())
    return 0;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  if (getaddrinfo(host, NULL, &hints, &res) != 0)
    return 0;
  int found = 0;
  char refused[200];
  for (struct addrinfo *a = res; a && !found; a = a->ai_next)
    if ((found = internal_addr_refused(a->ai_addr, a->ai_addrlen, refused, sizeof refused)))
      snprintf(why, size, "%s: %s; a webhook may not reach the server's own networks", host, refused);
  freeaddrinfo(res);
  return found;
}

/* The url field's own rules, once jspec found a string. */
static void check_url(const struct jspec *spec, const char *url, struct field_errors *fe)
{
  if (!spec->present || spec->is_null || !url)
    return;
  char host[256], internal[512];
  const char *why = url_check(url, host, sizeof host);
  if (why)
    field_error(fe, "url", "%s", why);
  else if (host_reaches_internal(host, internal, sizeof internal))
    field_error(fe, "url", "%s", internal);
}

struct webhook_new {
  const char *body, *actor;
  char secret[WEBHOOK_SECRET_SIZE];
};

static unsigned create_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct webhook_new *in = ctx;
  const char *params[] = {in->body, in->secret, in->actor};
  PGresult *r;
  if (db_exec_one(db, "webhooks_insert", 3, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  json_t *doc = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
  long long version = atoll(PQgetvalue(r, 0, 1));
  char loc[64];
  snprintf(loc, sizeof loc, "/v1/webhooks/%s", PQgetvalue(r, 0, 0));
  PQclear(r);
  if (!doc)
    return reply_problem(rp, PROBLEM_INTERNAL, "cannot render the webhook");
  /* The only time the secret is ever shown. */
  json_object_set_new(doc, "secret", json_string(in->secret));
  reply_json(rp, 201, doc);
  reply_etag(rp, version);
  reply_header(rp, "Location", loc);
  return 201;
}

unsigned webhooks_create(struct request *rq, struct reply *rp)
{
  struct webhook_new in = {.actor = rq->who.actor};
  const char *url = NULL;
  struct jspec spec[] = {
      JSPEC_STR("url", JSPEC_REQUIRED, &url, WEBHOOK_URL_MAX),
      JSPEC_CUSTOMV("event_types", 0, NULL, check_event_types),
      JSPEC_TXT("description", JSPEC_NULLABLE, NULL, DESCRIPTION_MAX),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  jspec_parse(rq->body, spec, JSPEC_CREATE, "", &fe);
  check_url(&spec[0], url, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  if (webhook_secret_new(in.secret) != 0)
    return reply_problem(rp, PROBLEM_INTERNAL, "no random bytes for the secret");
  in.body = request_body_text(rq);
  unsigned st = db_run_tx(rq->db, create_tx, &in, rp);
  OPENSSL_cleanse(in.secret, sizeof in.secret);
  return st;
}

unsigned webhooks_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit", "cursor", "enabled", NULL};
  static const char *const booleans[] = {"true", "false", NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *enabled;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_enum(rq, "enabled", booleans, &enabled, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {pg.cursor, pg.limit_plus_one, enabled};
  PGresult *r = db_exec(rq->db, "webhooks_select_page", 3, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned webhooks_get(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "webhook");
  if (!id)
    return rp->status;
  const char *params[] = {id};
  return reply_read_one(rq, rp, "webhooks_select_by_id", 1, params, "webhook", id);
}

struct webhook_change {
  const struct request *rq;
  const char *id;
};

/* Locks the subscription and checks If-Match: 0 to go on, else the reply's
 * status. */
static unsigned lock_checked(struct db *db, const struct webhook_change *ch, const char *stmt, struct reply *rp)
{
  const char *params[] = {ch->id};
  PGresult *r;
  enum db_status st = db_exec_one(db, stmt, 1, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE)
    return reply_not_found(rp, "webhook", ch->id);
  long long version = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  if (!request_if_match_ok(ch->rq, version))
    return reply_stale(rp, "webhook", version);
  return 0;
}

static unsigned update_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct webhook_change *ch = ctx;
  unsigned st = lock_checked(db, ch, "webhooks_lock", rp);
  if (st)
    return st;
  const char *params[] = {ch->id, request_body_text(ch->rq), ch->rq->who.actor};
  PGresult *r;
  if (db_exec_one(db, "webhooks_update", 3, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

unsigned webhooks_update(struct request *rq, struct reply *rp)
{
  struct webhook_change ch = {.rq = rq, .id = path_id(rq, rp, 0, "webhook")};
  if (!ch.id)
    return rp->status;
  const char *url = NULL;
  struct jspec spec[] = {
      JSPEC_STR("url", 0, &url, WEBHOOK_URL_MAX),
      JSPEC_CUSTOMV("event_types", 0, NULL, check_event_types),
      JSPEC_TXT("description", JSPEC_NULLABLE, NULL, DESCRIPTION_MAX),
      JSPEC_BOOLV("enabled", 0, NULL),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  jspec_parse(rq->body, spec, JSPEC_PATCH, "", &fe);
  check_url(&spec[0], url, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  return db_run_tx(rq->db, update_tx, &ch, rp);
}

static unsigned delete_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct webhook_change *ch = ctx;
  unsigned st = lock_checked(db, ch, "webhooks_lock_for_delete", rp);
  if (st)
    return st;
  const char *params[] = {ch->id};
  PGresult *r = db_exec(db, "webhooks_delete", 1, params);
  if (!r)
    return db_error_reply(db, rp);
  PQclear(r);
  return reply_empty(rp, 204);
}

unsigned webhooks_delete(struct request *rq, struct reply *rp)
{
  struct webhook_change ch = {.rq = rq, .id = path_id(rq, rp, 0, "webhook")};
  if (!ch.id)
    return rp->status;
  return db_run_tx(rq->db, delete_tx, &ch, rp);
}

unsigned webhook_deliveries_list(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "webhook");
  if (!id)
    return rp->status;
  static const char *const known[] = {"limit", "cursor", "status", "event_id", NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *status, *event_id;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_enum(rq, "status", delivery_statuses, &status, &fe);
  query_id(rq, "event_id", &event_id, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *id_params[] = {id};
  PGresult *r;
  enum db_status st = db_exec_one(rq->db, "webhooks_exists", 1, id_params, &r);
  if (st < 0)
    return db_error_reply(rq->db, rp);
  PQclear(r);
  if (st == DB_NONE)
    return reply_not_found(rp, "webhook", id);
  const char *params[] = {id, pg.cursor, pg.limit_plus_one, status, event_id};
  r = db_exec(rq->db, "webhook_deliveries_select_page", 5, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}
