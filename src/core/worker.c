/* SPDX-License-Identifier: ISC */
/* Worker pool: a job queue served by threads, a done queue drained on the loop by one event. */
#include "core/worker.h"

#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "lib/log.h"
#include "lib/mem.h"

enum st_worker_state {
    ST_WORKER_QUEUED,  /* in pool->pending */
    ST_WORKER_RUNNING, /* a thread runs work_fn; in no list */
    ST_WORKER_DONE,    /* in pool->done, waiting for the loop */
};

struct st_worker_job {
    TAILQ_ENTRY(st_worker_job) link;
    struct st_worker_pool *pool;
    st_worker_work_fn *work_fn;
    st_worker_done_cb *done_cb;
    st_worker_free_fn *free_fn; /* set by cancel */
    void *arg;
    enum st_worker_state state; /* under pool->mu */
    bool cancelled;             /* under pool->mu */
};

TAILQ_HEAD(st_worker_list, st_worker_job);

struct st_worker_pool {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct st_worker_list pending;
    struct st_worker_list done;
    bool stop;
    unsigned nthreads;
    pthread_t *threads;
    struct event *done_ev;
};

static void *st_worker_main(void *p)
{
    struct st_worker_pool *pool = p;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->stop && TAILQ_EMPTY(&pool->pending))
            pthread_cond_wait(&pool->cond, &pool->mu);
        if (pool->stop)
            break;
        struct st_worker_job *job = TAILQ_FIRST(&pool->pending);
        TAILQ_REMOVE(&pool->pending, job, link);
        job->state = ST_WORKER_RUNNING;
        pthread_mutex_unlock(&pool->mu);

        job->work_fn(job->arg);

        pthread_mutex_lock(&pool->mu);
        job->state = ST_WORKER_DONE;
        TAILQ_INSERT_TAIL(&pool->done, job, link);
        pthread_mutex_unlock(&pool->mu);
        /* Activating an already active event is harmless: the loop drains the whole queue. The
           event outlives this call because st_worker_pool_free joins the threads first. */
        event_active(pool->done_ev, EV_READ, 0);
        pthread_mutex_lock(&pool->mu);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

/* Delivers completions one at a time, so a done_cb may cancel another job of this pool. */
static void st_worker_drain(evutil_socket_t fd, short what, void *p)
{
    struct st_worker_pool *pool = p;
    for (;;) {
        pthread_mutex_lock(&pool->mu);
        struct st_worker_job *job = TAILQ_FIRST(&pool->done);
        if (job != NULL)
            TAILQ_REMOVE(&pool->done, job, link);
        pthread_mutex_unlock(&pool->mu);
        if (job == NULL)
            return;
        if (job->cancelled) {
            if (job->free_fn != NULL)
                job->free_fn(job->arg);
        } else {
            job->done_cb(job->arg);
        }
        free(job);
    }
}

struct st_worker_pool *st_worker_pool_new(struct event_base *base, unsigned threads)
{
    ST_ASSERT(base != NULL);
    ST_ASSERT(threads >= 1 && threads <= ST_WORKER_MAX_THREADS);
    struct st_worker_pool *pool = st_calloc(1, sizeof(*pool));
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cond, NULL);
    TAILQ_INIT(&pool->pending);
    TAILQ_INIT(&pool->done);
    pool->done_ev = event_new(base, -1, 0, st_worker_drain, pool);
    if (pool->done_ev == NULL)
        st_fatal("worker: cannot create the completion event");
    pool->threads = st_calloc(threads, sizeof(*pool->threads));

    /* Signals belong to the loop thread: workers start with every signal blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned i = 0; i < threads; i++) {
        int rc = pthread_create(&pool->threads[i], NULL, st_worker_main, pool);
        if (rc != 0)
            st_fatal("worker: cannot start a thread: %s", strerror(rc));
        pool->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool;
}

struct st_worker_job *st_worker_submit(struct st_worker_pool *pool, st_worker_work_fn *work_fn,
                                       st_worker_done_cb *done_cb, void *arg)
{
    ST_ASSERT(pool != NULL && work_fn != NULL && done_cb != NULL);
    struct st_worker_job *job = st_calloc(1, sizeof(*job));
    job->pool = pool;
    job->work_fn = work_fn;
    job->done_cb = done_cb;
    job->arg = arg;
    pthread_mutex_lock(&pool->mu);
    ST_ASSERT(!pool->stop);
    job->state = ST_WORKER_QUEUED;
    TAILQ_INSERT_TAIL(&pool->pending, job, link);
    pthread_cond_signal(&pool->cond);
    pthread_mutex_unlock(&pool->mu);
    return job;
}

static void st_worker_cancel_impl(struct st_worker_job *job, st_worker_free_fn *free_fn)
{
    struct st_worker_pool *pool = job->pool;
    pthread_mutex_lock(&pool->mu);
    ST_ASSERT(!job->cancelled);
    job->cancelled = true;
    job->free_fn = free_fn;
    enum st_worker_state state = job->state;
    if (state == ST_WORKER_QUEUED)
        TAILQ_REMOVE(&pool->pending, job, link);
    else if (state == ST_WORKER_DONE)
        TAILQ_REMOVE(&pool->done, job, link);
    pthread_mutex_unlock(&pool->mu);
    if (state == ST_WORKER_RUNNING)
        return; /* the drain or st_worker_pool_free finishes it */
    if (free_fn != NULL)
        free_fn(job->arg);
    free(job);
}

void st_worker_cancel(struct st_worker_job *job)
{
    st_worker_cancel_impl(job, NULL);
}

void st_worker_cancel_free(struct st_worker_job *job, st_worker_free_fn *free_fn)
{
    st_worker_cancel_impl(job, free_fn);
}

static unsigned st_worker_release(struct st_worker_list *list)
{
    unsigned dropped = 0;
    struct st_worker_job *job;
    while ((job = TAILQ_FIRST(list)) != NULL) {
        TAILQ_REMOVE(list, job, link);
        if (job->cancelled) {
            if (job->free_fn != NULL)
                job->free_fn(job->arg);
        } else {
            dropped++;
        }
        free(job);
    }
    return dropped;
}

void st_worker_pool_free(struct st_worker_pool **poolp)
{
    struct st_worker_pool *pool = *poolp;
    if (pool == NULL)
        return;
    *poolp = NULL;
    pthread_mutex_lock(&pool->mu);
    pool->stop = true;
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->mu);
    for (unsigned i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);
    /* No thread is left: the lists are ours without the lock. */
    unsigned dropped = st_worker_release(&pool->pending) + st_worker_release(&pool->done);
    if (dropped > 0)
        st_debug("worker: %u job(s) dropped at shutdown", dropped);
    event_free(pool->done_ev);
    pthread_cond_destroy(&pool->cond);
    pthread_mutex_destroy(&pool->mu);
    free(pool->threads);
    free(pool);
}
