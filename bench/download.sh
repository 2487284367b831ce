#!/usr/bin/env bash
# The verified download of one 1 GiB URL from nginx on 127.0.0.1: `wharf pull URL#sha256=…` against
# curl + openssl, aria2c -x8 + openssl, curl alone (the floor) and huggingface_hub, interleaved,
# medians. This is the `big` scenario of bench/speed.sh, which holds the harness; every knob of
# speed.sh applies (WHARF, WHARF_BASELINE, ROUNDS, SIZE_MIB, …).
exec env SCENARIOS=big bash "$(dirname "$0")/speed.sh" "$@"
