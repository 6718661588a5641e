"""Drivers: each one only fetches and schedules; every decision is the core's."""
