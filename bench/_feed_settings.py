"""Settings for bench/feed.py's daphne: the project's own, with the channel layer the bench names."""

import json
import os

from config.settings import *  # noqa: F403

CHANNEL_LAYERS = {"default": json.loads(os.environ["BENCH_CHANNEL_LAYER"])}
