"""`python -m townsquare.delivery.simulators [--base-url URL] [--pace P]`: every provider
simulator on its default port (DoorDash 8701, Uber 8702, Dada 8703, Open Delivery 8704), their
webhooks going to Townsquare at URL, and the environment that points Townsquare at them
(printed, for `townsquare demo` in another shell)."""

from __future__ import annotations

import argparse
import logging
import time

from townsquare.delivery.simulators import dada, doordash, open_delivery, start_all, stop_all, uber

PORTS = {"doordash": doordash.DEFAULT_PORT, "uber": uber.DEFAULT_PORT,
         "dada": dada.DEFAULT_PORT, "open_delivery": open_delivery.DEFAULT_PORT}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m townsquare.delivery.simulators")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000",
                        help="Townsquare's address (webhooks go to /delivery/webhooks/<name>)")
    parser.add_argument("--pace", type=float, default=0.2,
                        help="wall seconds per simulated second (1.0 = real time)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    fields, sims = start_all(args.base_url, pace=args.pace, ports=PORTS)
    for name, value in sorted(fields.items()):
        print(f"export TOWNSQUARE_{name.upper()}='{value}'", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop_all(sims)


if __name__ == "__main__":
    main()
