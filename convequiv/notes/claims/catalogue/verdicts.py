"""The expected verdicts, abbreviated in the catalogue."""

H, W, C = "holds", "wrong", "conditional"
