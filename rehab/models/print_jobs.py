"""Batch print jobs: the sheets a therapist asked for at once, printed by a render worker off the page workers.

A job and its items are the truth about a batch (the queue only says "run job 7"): a worker that dies
mid-batch leaves the items it printed marked done with their print record, so another worker resumes at the
first pending item and nothing is printed twice in the record (rehab/printing/jobs.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import AutoString, Field, SQLModel

from rehab.models.base import utcnow
from rehab.vocabulary import OneOf, PrintItemStatus, PrintJobKind, PrintJobStatus


class PrintJob(SQLModel, table=True):
    __tablename__ = "print_job"
    __table_args__ = (Index("ix_print_job_user_created", "user_id", "created_at"),
                      Index("ix_print_job_status", "status"))

    id: int = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    user_id: int = Field(foreign_key="user_account.id")  # who started it: only they see it; sheets print as theirs
    kind: Annotated[str, OneOf(PrintJobKind)] = Field(sa_type=AutoString(length=10))
    status: Annotated[str, OneOf(PrintJobStatus)] = Field(default=PrintJobStatus.QUEUED,
                                                         sa_type=AutoString(length=10))
    total: int = 0
    done_count: int = 0
    failed_count: int = 0
    # The address the patients' links on these sheets start with (the request's, when PUBLIC_URL is empty): a
    # worker has no request to take it from.
    link_base: str = Field(max_length=300)
    attempts: int = 0  # how many times a worker started on it (a worker that died mid-batch counts)
    worker: str | None = Field(default=None, max_length=120)  # "host:pid" of the worker printing it
    heartbeat_at: datetime | None = None  # the worker's last sign of life on this job
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    result_key: str | None = Field(default=None, max_length=64)  # the merged PDF's key in the sheet cache
    problem: str = Field(default="", max_length=300)  # why the job as a whole failed, in words


class PrintJobItem(SQLModel, table=True):
    __tablename__ = "print_job_item"
    __table_args__ = (UniqueConstraint("job_id", "position", name="uq_print_job_item_position"),)

    id: int = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="print_job.id", index=True)
    position: int  # the order in the merged PDF (patients by name)
    patient_id: int = Field(foreign_key="patient.id")
    protocol_id: int = Field(foreign_key="protocol.id")
    status: Annotated[str, OneOf(PrintItemStatus)] = Field(default=PrintItemStatus.PENDING,
                                                          sa_type=AutoString(length=10))
    print_id: int | None = Field(default=None, foreign_key="handout_print.id")  # its print record, once printed
    problem: str = Field(default="", max_length=300)  # why this sheet did not print, in words
