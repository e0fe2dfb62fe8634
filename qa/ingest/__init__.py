"""Files to articles: the corpus walked and read, formats, encodings, sentences with offsets, chunks, copies of one
story, the folder watcher."""
