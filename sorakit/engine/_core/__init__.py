"""The engine core in named parts, with one direction of dependency (each imports only those
above it in this list; nothing here imports the `Engine` façade, the Studio or anything else of
`sorakit.engine` but `_policy` and `_config`)::

    transitions  pure: (row, provider state, now) -> changes + next step; the next-delay rule
    http11       one HTTP/1.1 connection over asyncio (a Protocol, its parser, a streamed body)
    transport    the HTTP transport of a Runtime's client: a keep-alive pool of http11 connections
    runtime      Runtime (a provider's client and limits), _Task, retry classification, Pacing
                 (deadlines, cancel-aware sleeps, slots, safe GETs), the DRIVERS registry
    book         the job book: the only writer (row cache, group commit, failure, notifications,
                 budget settlement)
    leases       hold, heartbeat, claim, fence, release, adopt orphans; OWNER, dead_owners
    create       the create phase and unknown-outcome reconciliation  -> Created | CreateFailed
    poll         the poll phase                                       -> Polled | Lost
    download     the download phase                                   -> Downloaded | DownloadFailed
    cancel       what job.cancel() does, by where the task is         -> CancelResult
    driver       one driver per task: sequences the phases, acts on their outcomes, ends the task

    sorakit.engine._engine.Engine   the façade over them (insert, start_task, wait, watch, cancel,
                                    resume_rows, retry_download, adopt, snapshot, subscribe, aclose)

Job life (one *task* = one create call; a task with ``variations=n`` owns n ledger rows)::

    pending ──create──▶ submitted ─▶ queued ─▶ in_progress ─▶ downloading ─▶ completed
       │                   ▲                                      │
       │ outcome unknown   │ adopt match                          ├─▶ failed (code, message)
       └──▶ unknown ──reconcile (list)──┘   provably absent ──▶ re-send  │
                                                                          └─▶ failed download_failed
                                                 (retries used up; cost kept; job.retry_download())
    any wait past max_wait ──▶ timed_out_waiting (resumable: polled again by resume() / wait())
    job.cancel() ──▶ cancelled (never sent: locally, not billed; sent: the provider's cancel / delete)
               └──▶ timed_out_waiting with error_code not_cancelled (the provider cannot stop it:
                    sorakit stops waiting; resume() / wait() still fetch the file and its cost)
    a poll the provider refuses ──▶ timed_out_waiting with error_code/error_message recorded

Rules kept by construction: one writer (`book.Book.write`: a committed ledger update before anyone
is told, rows terminal before waiters wake); the lease held before any send that cannot be taken
back (`leases.Leases.fence`); retry rules in `runtime` (requests that cannot make a second job)
and `create` (creates: never bill twice); no job left behind silently (`book`, `driver`).
"""
