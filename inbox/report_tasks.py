"""Periodic tasks of the reports: keep the rollups current (thin interfaces over `inbox.reports.rollup`)."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="inbox.report_tasks.reports_rollup")
def reports_rollup() -> int:
    """Periodic (every minute): fold new messages and resolves into the report rollups."""
    from inbox.reports.rollup import reports_rollup as rollup

    run = rollup()
    if run.messages or run.resolutions or run.missed:
        logger.info(
            "Report rollup: %s messages, %s resolves, %s missed windows", run.messages, run.resolutions, run.missed
        )
    return run.messages + run.resolutions


@shared_task(name="inbox.report_tasks.report_hours_recompute")
def report_hours_recompute(business_id: int) -> int:
    """After a business changed its opening hours: count its rolled-up times within them again."""
    from inbox.reports.rollup import business_hours_recompute

    return business_hours_recompute(business_id=business_id)
