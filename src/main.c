/* arcollectd: serve | migrate | create-api-key. */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/api_keys.h"
#include "arc/config.h"
#include "arc/db.h"
#include "arc/imports.h"
#include "arc/log.h"
#include "arc/router.h"
#include "arc/server.h"
#include "arc/sweep.h"
#include "arc/webhooks.h"

static void usage(void)
{
  fprintf(stderr,
          "usage: arcollectd serve\n"
          "       arcollectd migrate\n"
          "       arcollectd create-api-key --role ROLE [--name NAME] [--actor HANDLE]\n"
          "ROLE is admin, manager, collector, viewer or integration.\n\n");
  config_usage();
}

static int cmd_migrate(const struct config *cfg)
{
  PGconn *c = db_connect_raw(cfg->database_url);
  if (!c)
    return 1;
  int rc = db_migrate(c, cfg->migrations_dir, cfg->code_dir, 1);
  PQfinish(c);
  return rc == 0 ? 0 : 1;
}

static int cmd_create_api_key(const struct config *cfg, int argc, char **argv)
{
  const char *role = NULL, *name = NULL, *actor = NULL;
  for (int i = 0; i < argc; i++) {
    if (i + 1 < argc && strcmp(argv[i], "--role") == 0)
      role = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--name") == 0)
      name = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--actor") == 0)
      actor = argv[++i];
    else {
      usage();
      return 2;
    }
  }
  if (!role || role_parse(role) == ROLE_NONE) {
    fprintf(stderr, "arcollectd: --role must be admin, manager, collector, viewer or integration\n");
    return 2;
  }
  if (db_pool_init(cfg) != 0)
    return 1;
  struct db *db = db_thread();
  if (!db_ready(db)) {
    fprintf(stderr, "arcollectd: database not reachable or not migrated (run arcollectd migrate)\n");
    db_pool_shutdown();
    return 1;
  }
  struct api_key_material key;
  PGresult *r = api_keys_insert(db, role_parse(role), name, actor, "cli", &key);
  int rc = 1;
  if (r) {
    printf("%s\n", key.token);
    rc = 0;
    PQclear(r);
  } else {
    fprintf(stderr, "arcollectd: cannot store the key (sqlstate %s)\n", db->err.sqlstate);
  }
  db_pool_shutdown();
  return rc;
}

static int cmd_serve(const struct config *cfg)
{
  /* Signals are blocked in every thread and taken here alone with sigwait. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (db_pool_init(cfg) != 0)
    return 1;
  struct db *db = db_thread();
  if (db->conn && PQstatus(db->conn) == CONNECTION_OK && !db->healthy) {
    log_error("statements failed to prepare: is the database migrated? (arcollectd migrate)");
    db_pool_shutdown();
    return 1;
  }
  if (!db_ready(db))
    log_error("database not reachable yet; serving 503 until it is");
  db_pool_shutdown(); /* the main thread does no queries while serving */

  struct server *srv = server_start(cfg, arc_routes, arc_routes_count);
  if (!srv)
    return 1;
  log_json("info", "listening",
           json_pack("{s:s, s:i, s:i, s:s}", "bind", cfg->bind, "port", (int)server_port(srv), "threads",
                     (int)cfg->threads, "poll", cfg->poll_mode));
  struct scheduler *sched = scheduler_start(cfg);
  struct delivery *hooks = delivery_start(cfg);
  struct import_worker *imports = import_worker_start(cfg);
  int sig = 0;
  sigwait(&set, &sig);
  log_json("info", "stopping", json_pack("{s:i, s:i}", "signal", sig, "in_flight", (int)server_in_flight(srv)));
  server_stop(srv, cfg->shutdown_grace_s * 1000);
  delivery_stop(hooks); /* POSTs in flight are abandoned and sent again on the next start */
  import_worker_stop(imports); /* a job in progress is rolled back and run again on the next start */
  scheduler_stop(sched); /* after the sweep in progress, if any */
  log_info("stopped");
  return 0;
}

int main(int argc, char **argv)
{
  json_object_seed(0); /* before any thread starts */
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  struct config cfg;
  if (config_load(&cfg) != 0)
    return 2;
  int rc;
  if (strcmp(argv[1], "serve") == 0 && argc == 2)
    rc = cmd_serve(&cfg);
  else if (strcmp(argv[1], "migrate") == 0 && argc == 2)
    rc = cmd_migrate(&cfg);
  else if (strcmp(argv[1], "create-api-key") == 0)
    rc = cmd_create_api_key(&cfg, argc - 2, argv + 2);
  else {
    usage();
    rc = 2;
  }
  config_free(&cfg);
  return rc;
}
