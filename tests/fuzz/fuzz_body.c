/* libFuzzer: a request body as the server reads one (json_loadb with
 * duplicate keys refused, then the nesting cap) and validated by a body
 * spec with a field of every kind jspec checks, in create and in patch
 * mode; a nested object's items go through jspec as allocations do. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "arc/jspec.h"
#include "arc/problem.h"
#include "arc/promises.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const kinds[] = {"commercial", "consumer", NULL};
static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};

static void check_items(const json_t *v, const char *field, struct field_errors *fe)
{
  if (!json_is_array(v) || json_array_size(v) > 1000) {
    field_error(fe, field, "must be an array of at most 1000 objects");
    return;
  }
  size_t i;
  json_t *item;
  json_array_foreach(v, i, item)
  {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s[%zu]", field, i);
    struct jspec spec[] = {
        JSPEC_IDV("invoice_id", JSPEC_REQUIRED, NULL),
        JSPEC_MONEYV("amount", JSPEC_REQUIRED, NULL, 1, 100000000000000LL),
        JSPEC_ENDV,
    };
    if (json_is_object(item))
      jspec_parse(item, spec, JSPEC_CREATE, prefix, fe);
    else
      field_error(fe, prefix, "must be an object");
  }
}

static int depth_ok(const json_t *v, int depth)
{
  if (depth > 32)
    return 0;
  const char *k;
  json_t *item;
  size_t i;
  if (json_is_object(v)) {
    json_object_foreach((json_t *)v, k, item) if (!depth_ok(item, depth + 1)) return 0;
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, item) if (!depth_ok(item, depth + 1)) return 0;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  json_error_t err;
  json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
  if (!body)
    return 0;
  if (json_is_object(body) && depth_ok(body, 0)) {
    for (int mode = 0; mode < 2; mode++) {
      struct jspec spec[] = {
          JSPEC_STR("name", JSPEC_REQUIRED, NULL, 200),
          JSPEC_TXT("notes", JSPEC_NULLABLE, NULL, 10000),
          JSPEC_ENUMV("kind", 0, NULL, kinds),
          JSPEC_SETV("preferred_contact_days", JSPEC_NULLABLE, NULL, days),
          JSPEC_INTV("cadence_days", JSPEC_NULLABLE, NULL, 1, 365),
          JSPEC_MONEYV("amount", 0, NULL, 1, 100000000000000LL),
          JSPEC_BOOLV("factored", 0, NULL),
          JSPEC_DATEV("due_on", 0, NULL),
          JSPEC_INSTANTV("occurred_at", 0, NULL),
          JSPEC_IDV("customer_id", JSPEC_CREATE_ONLY, NULL),
          JSPEC_CURRENCYV("currency", 0, NULL),
          JSPEC_EMAILV("email", JSPEC_NULLABLE, NULL),
          JSPEC_CUSTOMV("invoice_ids", 0, NULL, promises_check_invoice_ids),
          JSPEC_CUSTOMV("allocations", 0, NULL, check_items),
          JSPEC_ENDV,
      };
      struct field_errors fe = {0};
      jspec_parse(body, spec, mode ? JSPEC_PATCH : JSPEC_CREATE, "", &fe);
      field_errors_clear(&fe);
    }
  }
  json_decref(body);
  return 0;
}
