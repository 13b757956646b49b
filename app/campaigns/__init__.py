"""Votes, draws and messages to the store: the minimum the SMS commands need.

Scheduling, drawing winners and announcing results come with the campaigns issue.
"""
