"""Runs attempts against a provisioned lock forever, printing each granted seq once its
journal entry is committed; the crash test kills it with SIGKILL mid-traffic."""

from __future__ import annotations

import sys
from pathlib import Path

from keyturn.lock.agent import Lock


def main() -> None:
    lock = Lock.open(Path(sys.argv[1]))
    valid, card = sys.argv[2], sys.argv[3]
    n = 0
    while True:
        n += 1
        if n % 3 == 0:
            attempt = lock.present_card(card)
        elif n % 3 == 1:
            attempt = lock.enter_code(valid)
        else:
            attempt = lock.enter_code(f"{3000000 + n:07d}")
        if attempt.granted:
            print(f"granted {attempt.seq}", flush=True)


if __name__ == "__main__":
    main()
