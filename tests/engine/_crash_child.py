"""Child process of the crash test: start a batch of 20 jobs, then wait (until SIGKILLed).

Usage: python _crash_child.py LEDGER MEDIA_DIR EMULATOR_URL
"""

import sys

from sorakit.engine import Policy, Studio

OPENAI = [f"crash trial openai job {i}" for i in range(10)]
RUNWARE = [f"crash trial runware job {i}" for i in range(10)]

POLICY = Policy(poll_initial=0.05, poll_max=0.5, retry_initial=0.02, retry_max=0.3, reconcile_grace=0.5,
                reconcile_slack=60.0, progress_write_interval=0.1, request_timeout=10.0)


def main() -> None:
    ledger, media, url = sys.argv[1:4]
    studio = Studio(ledger, media_dir=media, emulate=True, emulator=url, policy=POLICY, resume=False)
    a = studio.batch(OPENAI, models="sora-2", wait=False, progress=False)
    b = studio.batch(RUNWARE, models="seedance-1-pro", providers="runware", size="864x480", seconds=5,
                     seeds=[77], wait=False, progress=False)
    print("STARTED", flush=True)
    a.wait()
    b.wait()
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
