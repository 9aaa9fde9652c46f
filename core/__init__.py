"""The ground floor: the vocabulary every stage shares (errors, settings, platforms and handles,
the records passed between stages). It imports nothing of ours."""
