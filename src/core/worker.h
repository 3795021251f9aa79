/* SPDX-License-Identifier: ISC */
/* Worker pool: runs blocking work on threads and hands completions back to the libevent loop. */
#ifndef ST_CORE_WORKER_H
#define ST_CORE_WORKER_H

struct event_base;
struct st_worker_pool;
struct st_worker_job;

/* Work run on a worker thread; it must not touch the loop or anything the loop owns. */
typedef void st_worker_work_fn(void *arg);
/* Completion, run on the loop thread once the work has returned. */
typedef void st_worker_done_cb(void *arg);
/* Releases arg after a cancel, on the loop thread, once no thread can touch it any more. */
typedef void st_worker_free_fn(void *arg);

#define ST_WORKER_MAX_THREADS 64

/* Starts `threads` threads (1..ST_WORKER_MAX_THREADS). The process must have called
   evthread_use_pthreads() before creating base: completions wake the loop with event_active()
   from a worker thread. Every other function here is called on the loop thread only. */
struct st_worker_pool *st_worker_pool_new(struct event_base *base, unsigned threads);

/* Queues work_fn(arg) for a worker thread; jobs start in submission order. done_cb(arg) runs
   later on the loop thread, never inside this call. The caller keeps ownership of arg, which must
   stay valid until done_cb runs (or, after a cancel, as described there). The returned handle is
   valid until done_cb has been called or the job has been cancelled. */
struct st_worker_job *st_worker_submit(struct st_worker_pool *pool, st_worker_work_fn *work_fn,
                                       st_worker_done_cb *done_cb, void *arg);

/* Cancels a job: done_cb will not run and the handle becomes invalid. If the work has not
   started it never will; if it is running, it finishes on its thread, so arg must stay valid
   until then. Use this form only when arg outlives the pool (e.g. it is owned by something freed
   after st_worker_pool_free); otherwise use st_worker_cancel_free. */
void st_worker_cancel(struct st_worker_job *job);

/* Cancels a job and hands arg to the pool: free_fn(arg) runs on the loop thread as soon as no
   thread can touch arg any more, either inside this call (the work had not started or had
   already finished) or later, when the running work returns (at the latest in
   st_worker_pool_free). free_fn may be NULL. */
void st_worker_cancel_free(struct st_worker_job *job, st_worker_free_fn *free_fn);

/* Stops the pool: running work is waited for (threads are joined), queued work is dropped
   without running, and no done_cb of any remaining job runs (cancelled jobs get their free_fn).
   Owners must cancel or finish their jobs first if they need to release an arg. Not to be called
   from inside a done_cb of this pool. Clears *poolp; NULL is ignored. */
void st_worker_pool_free(struct st_worker_pool **poolp);

#endif
