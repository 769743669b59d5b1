/* Structured one-line logs on stderr: `ts=… level=… msg="…" key=value…`.
 * logfmt was picked over JSON because it stays readable in a terminal and
 * greppable by key; values with spaces or quotes are quoted and escaped. */
#ifndef MW_LOG_H
#define MW_LOG_H

typedef enum { MW_LOG_DEBUG = 0, MW_LOG_INFO, MW_LOG_WARN, MW_LOG_ERROR } mw_log_level_t;

/* Parses "debug"|"info"|"warn"|"error"; returns the level or -1. */
int mw_log_level_parse(const char *s);
const char *mw_log_level_name(mw_log_level_t level);

void mw_log_set_level(mw_log_level_t level);
mw_log_level_t mw_log_get_level(void);

/* Logs `msg` then `nkv` key/value string pairs given as varargs (const char *key,
 * const char *value, …). A NULL value is skipped. */
void mw_log(mw_log_level_t level, const char *msg, int nkv, ...);

/* printf-style message with no extra fields. */
void mw_logf(mw_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
