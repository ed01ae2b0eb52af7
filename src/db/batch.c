/* Batched reads in libpq's pipeline mode (include/arc/db.h, "Batched
 * reads").  The answers come in the order the reads were sent: each read's
 * result, then a NULL, and a PGRES_PIPELINE_SYNC for each Sync.  A read
 * that fails makes PostgreSQL skip the rest of its batch up to the Sync
 * (PGRES_PIPELINE_ABORTED): those are marked aborted, to be run again on
 * their own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/db.h"
#include "arc/log.h"

static void answered(struct db *db)
{
  struct db_read *rd = db->batch_head;
  db->batch_head = rd->next;
  if (!db->batch_head)
    db->batch_tail = NULL;
  rd->next = NULL;
  rd->answered = 1;
  rd->done(rd);
}

/* The connection is gone: every read in flight fails with it. */
static void lost(struct db *db)
{
  db->healthy = 0;
  db->batch_unsynced = db->batch_syncs = 0;
  while (db->batch_head) {
    PQclear(db->batch_head->result);
    db->batch_head->result = NULL;
    memset(&db->batch_head->err, 0, sizeof db->batch_head->err);
    strcpy(db->batch_head->err.sqlstate, "08006");
    answered(db);
  }
}

int db_batch_send(struct db *db, struct db_read *rd, const char *name, int nparams, const char *const *params)
{
  if (!db->healthy || nparams > DB_READ_MAX_PARAMS)
    return -1;
  PGconn *c = db->conn;
  if (!db->batch_head && !db->batch_syncs) {
    /* A transaction is never left open between requests, but check: a
     * read in the batch must not run inside someone's transaction. */
    if (PQtransactionStatus(c) != PQTRANS_IDLE || !PQenterPipelineMode(c))
      return -1;
  }
  rd->next = NULL;
  rd->result = NULL;
  rd->err.sqlstate[0] = '\0';
  rd->aborted = rd->answered = 0;
  rd->name = name;
  rd->nparams = nparams;
  for (int i = 0; i < nparams; i++)
    rd->params[i] = params[i] ? strdup(params[i]) : NULL;
  if (!PQsendQueryPrepared(c, name, nparams, params, NULL, NULL, 0)) {
    db_read_clear(rd);
    if (!db->batch_head && !db->batch_syncs)
      PQexitPipelineMode(c);
    return -1;
  }
  if (db->batch_tail)
    db->batch_tail->next = rd;
  else
    db->batch_head = rd;
  db->batch_tail = rd;
  db->batch_unsynced++;
  return 0;
}

void db_batch_flush(struct db *db)
{
  if (!db->batch_unsynced)
    return;
  /* PQpipelineSync sends the Sync and flushes the reads queued before it
   * (the connection blocks, so all of it goes). */
  if (!PQpipelineSync(db->conn)) {
    log_json("error", "cannot send batched reads", json_pack("{s:s}", "error", PQerrorMessage(db->conn)));
    lost(db);
    return;
  }
  db->batch_unsynced = 0;
  db->batch_syncs++;
}

int db_batch_socket(const struct db *db) { return db->batch_syncs ? PQsocket(db->conn) : -1; }

int db_batch_buffered(const struct db *db) { return db->batch_syncs && !PQisBusy(db->conn); }

void db_batch_receive(struct db *db, int wait)
{
  PGconn *c = db->conn;
  if (!db->batch_syncs)
    return;
  if (!wait && !PQconsumeInput(c)) {
    lost(db);
    return;
  }
  int nulls = 0; /* in a row: two mean the stream is out of step */
  while (db->batch_syncs) {
    if (!wait && PQisBusy(c))
      return;
    PGresult *r = PQgetResult(c);
    if (!r) {
      if (PQstatus(c) != CONNECTION_OK || ++nulls > 1) {
        lost(db);
        return;
      }
      /* The end of the head read's answer. */
      if (db->batch_head && (db->batch_head->result || db->batch_head->err.sqlstate[0] || db->batch_head->aborted))
        answered(db);
      continue;
    }
    nulls = 0;
    ExecStatusType st = PQresultStatus(r);
    struct db_read *rd = db->batch_head;
    if (st == PGRES_PIPELINE_SYNC) {
      PQclear(r);
      if (--db->batch_syncs == 0 && !db->batch_head && !db->batch_unsynced && !PQexitPipelineMode(c))
        lost(db);
      continue;
    }
    if (!rd) { /* an answer nobody asked for: the stream is out of step */
      PQclear(r);
      log_json("error", "batched reads: an answer without a read", NULL);
      lost(db);
      return;
    }
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
      rd->result = r;
      continue;
    }
    if (st == PGRES_PIPELINE_ABORTED) {
      rd->aborted = 1;
    } else {
      db_error_from(db, &rd->err, r, rd->name);
    }
    PQclear(r);
  }
}

void db_batch_wait(struct db *db)
{
  if (!db->batch_head && !db->batch_syncs)
    return;
  db_batch_flush(db);
  db_batch_receive(db, 1);
}

void db_read_clear(struct db_read *rd)
{
  PQclear(rd->result);
  rd->result = NULL;
  for (int i = 0; i < rd->nparams; i++) {
    free(rd->params[i]);
    rd->params[i] = NULL;
  }
  rd->nparams = 0;
}
