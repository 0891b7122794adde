"""latentbridge bridge: the real-time OSC + MIDI process that streams generated bars in time."""
