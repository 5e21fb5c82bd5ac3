"""Placeholder: the optional pose extractor is written below the core extractors."""
