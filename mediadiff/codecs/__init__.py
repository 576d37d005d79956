"""Media codecs: frame and mel decoding, vocoders, MP4/GIF/PNG/WAV writing, metadata, atomic files."""
