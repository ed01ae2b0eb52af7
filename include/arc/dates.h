/* Calendar checks done before a value reaches the database.  Date math
 * itself happens in PostgreSQL; this only rejects what is not a date. */
#ifndef ARC_DATES_H
#define ARC_DATES_H

/* 1 when S is exactly "YYYY-MM-DD" naming a real day in years 1900-9999. */
int date_is_valid(const char *s);
/* 1 when S is an RFC 3339 date-time with "Z" or a numeric offset. */
int instant_is_valid(const char *s);
/* Days in MONTH (1-12) of YEAR. */
int date_days_in_month(int year, int month);

#endif
