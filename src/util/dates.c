/* Calendar validity checks (pure; the date math itself is PostgreSQL's). */
#include <ctype.h>
#include <string.h>

#include "arc/dates.h"

int date_days_in_month(int year, int month)
{
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12)
    return 0;
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
    return 29;
  return days[month - 1];
}

/* Reads exactly N digits at S into *OUT. */
static int digits(const char *s, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i]))
      return 0;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 1;
}

static int date_prefix_valid(const char *s)
{
  int y, m, d;
  if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || s[7] != '-' ||
      !digits(s + 8, 2, &d))
    return 0;
  return y >= 1900 && m >= 1 && m <= 12 && d >= 1 && d <= date_days_in_month(y, m);
}

int date_is_valid(const char *s)
{
  return s && strlen(s) == 10 && date_prefix_valid(s);
}

int instant_is_valid(const char *s)
{
  int hh, mm, ss;
  if (!s || strlen(s) < 20 || !date_prefix_valid(s))
    return 0;
  if ((s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &hh) || s[13] != ':' ||
      !digits(s + 14, 2, &mm) || s[16] != ':' || !digits(s + 17, 2, &ss))
    return 0;
  if (hh > 23 || mm > 59 || ss > 60)
    return 0;
  const char *p = s + 19;
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char)*p))
      return 0;
    while (isdigit((unsigned char)*p))
      p++;
  }
  if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
    return 1;
  int oh, om;
  if ((*p == '+' || *p == '-') && digits(p + 1, 2, &oh) && p[3] == ':' && digits(p + 4, 2, &om) &&
      p[6] == '\0')
    return oh <= 23 && om <= 59;
  return 0;
}
