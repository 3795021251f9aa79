/* SPDX-License-Identifier: ISC */
/* Sliding-window counters per key (per IP, or one global key) for in-band registration. */
#ifndef ST_MODULES_REGISTER_RATELIMIT_H
#define ST_MODULES_REGISTER_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct st_reg_limiter;

/* At most limit events per key in any window seconds (limit 0 = no limit), for at most max_keys
   keys at once: past that, events of new keys are refused until old ones expire (a flood of
   addresses must not grow memory). limit is capped at ST_REG_LIMIT_MAX. Never returns NULL. */
#define ST_REG_LIMIT_MAX 100000
struct st_reg_limiter *st_reg_limiter_new(unsigned limit, unsigned window, size_t max_keys);
void st_reg_limiter_free(struct st_reg_limiter **l);

/* Counts one event of key at now and returns true if it fits in the limit; false (nothing
   counted) otherwise. now must not go backwards by more than the window. */
bool st_reg_limiter_take(struct st_reg_limiter *l, const char *key, time_t now);
/* Gives back the latest event counted for key (an attempt that failed after all). */
void st_reg_limiter_give_back(struct st_reg_limiter *l, const char *key);
/* Events of key still inside the window at now. */
unsigned st_reg_limiter_count(struct st_reg_limiter *l, const char *key, time_t now);
/* Keys tracked (expired ones may linger until the table fills up). */
size_t st_reg_limiter_keys(const struct st_reg_limiter *l);

#endif
