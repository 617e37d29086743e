"""Exchange adapters. Speaks plain values only: nothing here imports Django."""
