"""Campaigns (issue 14): bulk and scheduled sending to an audience, with mail merge, a preview priced
as sends are, credits reserved up front, a paced fan-out that never sends twice, quiet hours for
marketing and the results per recipient. See docs/architecture.md "Campaigns"."""
