/* Configuration from the environment, declared as one table in config.c. */
#ifndef ARC_CONFIG_H
#define ARC_CONFIG_H

#include <stddef.h>

struct config {
  char *database_url;
  char *bind;
  unsigned port;
  unsigned threads;
  unsigned scheduler_interval_s;
  unsigned webhook_allow_private; /* 1: webhooks may reach internal addresses */
  unsigned time_travel; /* 1: as_of sweeps write (tests, demos); 0: they are previews */
  char *timezone;
  char *migrations_dir;
  char *code_dir; /* *.sql functions and triggers, loaded by migrate */
  size_t max_body;
  unsigned conn_timeout_s;
  unsigned conn_limit;
  unsigned header_timeout_s;
  unsigned per_ip_limit;
  unsigned statement_timeout_ms;
  unsigned auth_cache_ms; /* how long a verified API key is trusted (auth.h) */
  unsigned shutdown_grace_s;
  char *poll_mode; /* "epoll" or "poll" */
  char *cors_origins; /* ARC_CORS_ORIGINS: origins browsers may call from (cors.h) */
  /* Playbook defaults (SPEC §1); per-customer values override some. */
  unsigned cadence_days;
  unsigned promise_grace_days;
  unsigned confirm_receipt_days;
  unsigned plan_grace_days;          /* P7 */
  unsigned plan_max_missed;
  unsigned escalate_sales_attempts;  /* P8 */
  unsigned escalate_management_days;
  unsigned escalate_legal_days;
  char *management_assignee;         /* "" = none */
  unsigned consumer_max_attempts;    /* P15 */
  unsigned consumer_window_days;
  unsigned consumer_quiet_days;
  unsigned business_hours_start, business_hours_end;
  unsigned receivables_goal_pct;     /* P13 */
  /* Webhook delivery (src/integrate/delivery.c). */
  unsigned webhook_interval_ms;      /* 0 = no delivery thread */
  unsigned webhook_timeout_ms;
  unsigned webhook_retry_base_ms;
  unsigned webhook_retry_window_s;
  /* CSV imports (src/integrate/imports.c, import_job.c). */
  size_t import_max_bytes;
  unsigned import_max_uploads;
  unsigned import_poll_s;            /* 0 = no import worker thread */
};

/* Fills CFG from the environment.  Returns 0, or -1 after printing every
 * bad variable to stderr. */
int config_load(struct config *cfg);
void config_free(struct config *cfg);
/* Prints the variables, their defaults and meanings (for --help). */
void config_usage(void);

#endif
