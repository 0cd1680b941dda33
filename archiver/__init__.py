"""chatgpt-archiver: a lossless, searchable archive of your ChatGPT conversations."""

__version__ = "0.2.0"
