/* A result row as a JSON object, the way PostgreSQL's row_to_json writes
 * it: one member per column, named by the column, in the columns' order,
 * compact.  So a statement that selects a document's fields (an
 * arc_<resource>_fields function, docs/sql.md) is answered without the
 * database building the text, and reads byte for byte like the same
 * document rendered in SQL (row_to_json of those fields).
 *
 * Values by the column's type: bool → true/false, integer and numeric
 * types → the number (NaN and infinities quoted, as row_to_json does),
 * json and jsonb → their text as it is, NULL → null, anything else → its
 * text as a JSON string.  So a field must have the text the document
 * shows: instants as arc_ts text, arrays as json. */
#ifndef ARC_ROW_JSON_H
#define ARC_ROW_JSON_H

#include <libpq-fe.h>
#include <stddef.h>

/* The object of the columns FIRST.. of row ROW of R, appended to the
 * buffer *BUF (of *CAP bytes, *LEN used, grown with realloc; NUL-
 * terminated).  0, or -1 when memory ran out (*BUF still valid). */
int row_json_append(char **buf, size_t *len, size_t *cap, const PGresult *r, int row, int first);

/* The same as a new string (malloc'd), or NULL when memory ran out. */
char *row_json(const PGresult *r, int row, int first);

#endif
