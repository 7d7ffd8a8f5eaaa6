"""Evaluation and feedback reports (`sigap report`): data from the score database, rendered
as one self-contained HTML file, Markdown or CSV."""
